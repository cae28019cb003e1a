//! A quick end-to-end check: 1,000 yielding tasks on two workers.

#[test]
fn smoke() {
    let rt = heist::Runtime::builder().worker_threads(2).build().unwrap();
    let v = rt.block_on(async {
        let hs: Vec<_> = (0..1000u64).map(|i| heist::spawn(async move { heist::task::yield_now().await; i })).collect();
        let mut t = 0;
        for h in hs { t += h.await.unwrap(); }
        t
    });
    assert_eq!(v, 499500);
}
