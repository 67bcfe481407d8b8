//! The `otpgw` binary: everything lives in the library; see `otpgw::cli`.

/// mimalloc instead of the system allocator: under load the gateway allocates small,
/// short-lived buffers on many threads, where the system allocator spent about a sixth
/// of the process's time (see docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    otpgw::cli::main()
}
