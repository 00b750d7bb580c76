//! `countersign`: `approve` and `status` answered here, anything else handed to
//! `countersign-app` beside it (countersign_requests::launcher). It uses no part of the app's
//! library, so it links no GUI library.

fn main() -> std::process::ExitCode {
    countersign_requests::launcher::main()
}
