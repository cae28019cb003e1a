//! The expansion: the `async fn` becomes a plain `fn` that builds a runtime and blocks
//! on the original body.

use crate::args::{self, Args};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Error, ItemFn, ReturnType};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Main,
    Test,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Main => "heist::main",
            Kind::Test => "heist::test",
        }
    }
}

pub(crate) fn expand(args: TokenStream, item: TokenStream, kind: Kind) -> TokenStream {
    let mut func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let err =
                Error::new_spanned(&item, format!("`#[{}]` goes on an `async fn`", kind.name()));
            return with_item(err, item);
        }
    };
    let checked = check(&func, kind).and_then(|()| args::parse(args));
    match checked {
        Ok(args) => generate(&mut func, &args, kind),
        Err(err) => {
            // Emit the function too (as a plain fn that never runs), so that the error
            // above is the only one: no "`main` not found" or unused-function noise.
            func.sig.asyncness = None;
            let attrs = &func.attrs;
            let vis = &func.vis;
            let sig = &func.sig;
            let allow = (kind == Kind::Test).then(|| quote!(#[allow(dead_code)]));
            let stub = quote! { #(#attrs)* #allow #vis #sig { ::core::unreachable!() } };
            with_item(err, stub)
        }
    }
}

fn with_item(err: Error, item: TokenStream) -> TokenStream {
    let err = err.to_compile_error();
    quote! { #err #item }
}

fn check(func: &ItemFn, kind: Kind) -> Result<(), Error> {
    if func.sig.asyncness.is_none() {
        return Err(Error::new_spanned(
            func.sig.fn_token,
            format!(
                "the `async` keyword is missing from the function declaration: \
                 `#[{}]` runs an `async fn`",
                kind.name()
            ),
        ));
    }
    if !func.sig.inputs.is_empty() {
        let what = match kind {
            Kind::Main => "the `main` function cannot accept arguments",
            Kind::Test => "test functions cannot take arguments",
        };
        return Err(Error::new_spanned(&func.sig.inputs, what));
    }
    if !func.sig.generics.params.is_empty() {
        return Err(Error::new_spanned(
            &func.sig.generics,
            format!("`#[{}]` functions cannot be generic", kind.name()),
        ));
    }
    if kind == Kind::Test {
        if let Some(attr) = func.attrs.iter().find(|a| a.path().is_ident("test")) {
            return Err(Error::new_spanned(
                attr,
                "second test attribute: `#[heist::test]` already makes this a test",
            ));
        }
    }
    Ok(())
}

fn generate(func: &mut ItemFn, args: &Args, kind: Kind) -> TokenStream {
    func.sig.asyncness = None;
    let krate = &args.krate;
    let output = match &func.sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    };
    let mut builder = quote!(#krate::Builder::new());
    if let Some(n) = args.worker_threads {
        builder = quote!(#builder.worker_threads(#n));
    }
    if let Some(paused) = args.start_paused {
        builder = quote!(#builder.start_paused(#paused));
    }
    let body = &func.block;
    let span = body.span();
    // The body's output type is spelled out so that `?` and `return` inside it infer as
    // they would in the original `async fn`.
    let new_body = quote_spanned! {span=> {
        let body = async #body;
        let body: ::core::pin::Pin<&mut dyn ::core::future::Future<Output = #output>> =
            ::core::pin::pin!(body);
        #builder
            .build()
            .expect("failed to build the heist runtime")
            .block_on(body)
    }};
    func.block = syn::parse2(new_body).expect("a block");
    let test_attr = (kind == Kind::Test).then(|| quote!(#[::core::prelude::v1::test]));
    quote! { #test_attr #func }
}
