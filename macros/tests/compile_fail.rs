//! The attributes' compile errors, checked with trybuild against `tests/ui/*.stderr`.
//!
//! One trybuild project for all cases (its first run builds heist once, later runs
//! reuse `target/tests/trybuild`). Regenerate the expected output after changing a
//! message with `TRYBUILD=overwrite cargo test -p heist-macros --test compile_fail`.

#[test]
fn compile_fail() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
