//! SMS-pumping simulator (being rewritten for the layered guard).
fn main() {}
