//! `#[heist::main]` and `#[heist::test]` at run time (their compile errors are tested in
//! `macros/tests/compile_fail.rs`).

use heist::Handle;

#[heist::test]
async fn a_test_runs_on_a_runtime() {
    assert_eq!(heist::spawn(async { 1 + 1 }).await.unwrap(), 2);
    assert!(Handle::try_current().is_ok());
}

#[heist::test(worker_threads = 3)]
async fn worker_threads_sets_the_worker_count() {
    let handle = format!("{:?}", Handle::current());
    assert!(handle.contains("workers: 3"), "{handle}");
}

#[heist::test(flavor = "multi_thread", worker_threads = 1, start_paused = false)]
async fn tokio_style_arguments_are_accepted() {
    let handle = format!("{:?}", Handle::current());
    assert!(handle.contains("workers: 1"), "{handle}");
}

#[heist::test(crate = "heist")]
async fn crate_path_argument() {
    heist::task::yield_now().await;
}

#[heist::test]
async fn a_test_may_return_a_result() -> Result<(), std::num::ParseIntError> {
    let n: u32 = "42".parse()?;
    assert_eq!(n, 42);
    Ok(())
}

#[heist::test]
#[should_panic(expected = "inside the test")]
async fn should_panic_works() {
    panic!("inside the test");
}

/// `#[heist::main]` works on any `async fn` without arguments: it becomes blocking.
#[heist::main(worker_threads = 2)]
async fn blocking_helper() -> usize {
    let handle = format!("{:?}", Handle::current());
    assert!(handle.contains("workers: 2"), "{handle}");
    if heist::spawn(async { true }).await.unwrap() {
        return 7;
    }
    0
}

#[test]
fn main_attribute_makes_a_blocking_fn() {
    assert_eq!(blocking_helper(), 7);
    // The runtime is gone once the function returned.
    assert!(Handle::try_current().is_err());
}
