//! Parsing the attributes' arguments, with an error that points at the culprit.

use proc_macro2::Span;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Error, Expr, ExprLit, Lit, MetaNameValue, Path, Token};

/// The arguments, checked.
pub(crate) struct Args {
    pub(crate) worker_threads: Option<usize>,
    pub(crate) start_paused: Option<bool>,
    /// The path to the heist crate.
    pub(crate) krate: Path,
}

const EXPECTED: &str = "expected one of: `worker_threads`, `flavor`, `start_paused`, `crate`";

pub(crate) fn parse(tokens: proc_macro2::TokenStream) -> Result<Args, Error> {
    let pairs = Punctuated::<MetaNameValue, Token![,]>::parse_terminated
        .parse2(tokens)
        .map_err(|e| {
            Error::new(
                e.span(),
                format!("arguments are `name = value` pairs separated by commas; {EXPECTED}"),
            )
        })?;
    let mut args = Args {
        worker_threads: None,
        start_paused: None,
        krate: syn::parse_quote!(::heist),
    };
    let mut flavor_seen = false;
    for pair in pairs {
        let name = pair
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        let span = pair.value.span();
        match name.as_str() {
            "worker_threads" => {
                once(args.worker_threads.is_some(), &pair)?;
                let n = int(&pair.value, "worker_threads")?;
                if n == 0 {
                    return Err(Error::new(span, "`worker_threads` may not be 0"));
                }
                args.worker_threads = Some(n);
            }
            "flavor" => {
                once(flavor_seen, &pair)?;
                flavor_seen = true;
                match string(&pair.value, "flavor")?.as_str() {
                    "multi_thread" => {}
                    "current_thread" | "local" => {
                        return Err(Error::new(
                            span,
                            "heist has no single-threaded runtime flavor: its runtime always \
                             runs worker threads; use `worker_threads = 1` for one worker",
                        ))
                    }
                    other => {
                        return Err(Error::new(
                            span,
                            format!("unknown flavor `{other}`; expected `\"multi_thread\"`"),
                        ))
                    }
                }
            }
            "start_paused" => {
                once(args.start_paused.is_some(), &pair)?;
                args.start_paused = Some(boolean(&pair.value, "start_paused")?);
            }
            "crate" => {
                let path = string(&pair.value, "crate")?;
                args.krate = syn::parse_str(&path).map_err(|_| {
                    Error::new(span, format!("`crate` must be a path, not `{path}`"))
                })?;
            }
            _ => {
                let shown = if name.is_empty() {
                    quote::quote!(#pair).to_string()
                } else {
                    name
                };
                return Err(Error::new(
                    pair.path.span(),
                    format!("unknown argument `{shown}`; {EXPECTED}"),
                ));
            }
        }
    }
    Ok(args)
}

fn once(seen: bool, pair: &MetaNameValue) -> Result<(), Error> {
    if seen {
        let name = pair
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        return Err(Error::new(pair.path.span(), format!("`{name}` set twice")));
    }
    Ok(())
}

fn lit(value: &Expr) -> Option<&Lit> {
    match value {
        Expr::Lit(ExprLit { lit, .. }) => Some(lit),
        _ => None,
    }
}

fn int(value: &Expr, name: &str) -> Result<usize, Error> {
    match lit(value) {
        Some(Lit::Int(i)) => i
            .base10_parse::<usize>()
            .map_err(|_| bad(value.span(), name, "a positive integer")),
        _ => Err(bad(value.span(), name, "a positive integer")),
    }
}

fn string(value: &Expr, name: &str) -> Result<String, Error> {
    match lit(value) {
        Some(Lit::Str(s)) => Ok(s.value()),
        _ => Err(bad(value.span(), name, "a string literal")),
    }
}

fn boolean(value: &Expr, name: &str) -> Result<bool, Error> {
    match lit(value) {
        Some(Lit::Bool(b)) => Ok(b.value),
        _ => Err(bad(value.span(), name, "`true` or `false`")),
    }
}

fn bad(span: Span, name: &str, expected: &str) -> Error {
    Error::new(span, format!("`{name}` must be {expected}"))
}
