//! The `digicon` binary: parse the command line, start logging, hand over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    digicon::cli::run(digicon::cli::Cli::parse())
}
