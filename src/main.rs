//! The `otpgw` binary: everything lives in the library; see `otpgw::cli`.

fn main() -> std::process::ExitCode {
    otpgw::cli::main()
}
