//! `#[heist::main]` and `#[heist::test]`: run an `async fn` on a heist runtime.
//!
//! Use them through `heist` (its default feature `macros` re-exports them), never from
//! this crate directly. Both build a runtime with [`heist::Builder`], run the function's
//! body with `block_on`, and drop the runtime when it returns.
//!
//! Arguments (all optional, `name = value`, comma-separated):
//!
//! | argument | value | meaning |
//! |---|---|---|
//! | `worker_threads` | integer > 0 | `Builder::worker_threads` (default: one per core) |
//! | `flavor` | `"multi_thread"` | tokio's name for heist's only runtime; `"current_thread"` is refused with a hint |
//! | `start_paused` | `true` / `false` | start with the clock paused (`Builder::start_paused`) |
//! | `crate` | `"path"` | where `heist` is, when it is renamed or re-exported |
//!
//! [`heist::Builder`]: https://docs.rs/heist

mod args;
mod expand;

use proc_macro::TokenStream;

/// Runs `async fn main` on a heist runtime.
///
/// ```ignore
/// #[heist::main(worker_threads = 2)]
/// async fn main() {
///     let answer = heist::spawn(async { 42 }).await.unwrap();
///     println!("{answer}");
/// }
/// ```
///
/// expands to (roughly)
///
/// ```ignore
/// fn main() {
///     heist::Builder::new()
///         .worker_threads(2)
///         .build()
///         .expect("failed to build the heist runtime")
///         .block_on(async { /* the body */ })
/// }
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(args.into(), item.into(), expand::Kind::Main).into()
}

/// Runs an `async fn` test on a heist runtime of its own.
///
/// ```ignore
/// #[heist::test(worker_threads = 2)]
/// async fn spawns() {
///     assert_eq!(heist::spawn(async { 1 }).await.unwrap(), 1);
/// }
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(args.into(), item.into(), expand::Kind::Test).into()
}
