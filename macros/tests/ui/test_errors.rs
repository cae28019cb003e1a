#[heist::test]
fn not_async() {}

#[heist::test(workers = 2)]
async fn unknown_argument() {}

#[heist::test(worker_threads = 0)]
async fn zero_workers() {}

#[heist::test(worker_threads = "two")]
async fn workers_not_a_number() {}

#[heist::test(worker_threads = 1, worker_threads = 2)]
async fn set_twice() {}

#[heist::test(flavor = "current_thread")]
async fn current_thread_flavor() {}

#[heist::test(start_paused = true)]
async fn paused_time_is_fine() {}

#[heist::test(start_paused = 1)]
async fn paused_not_a_bool() {}

#[heist::test(worker_threads)]
async fn not_a_pair() {}

#[heist::test]
async fn with_arguments(_x: u32) {}

#[heist::test]
#[test]
async fn two_test_attributes() {}

fn main() {}
