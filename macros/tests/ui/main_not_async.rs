#[heist::main]
fn main() {}
