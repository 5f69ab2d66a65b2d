//! The `beefirst` binary: `--help`, configuration from the environment, then [`beefirst::run`].

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{}", beefirst::config::help_text());
        return ExitCode::SUCCESS;
    }
    if let Some(unknown) = args.first() {
        eprintln!(
            "beefirst: unknown argument {unknown:?}; settings come from the environment, see --help"
        );
        return ExitCode::from(2);
    }
    let config = match beefirst::config::Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("beefirst: {e}");
            return ExitCode::from(2);
        }
    };
    match beefirst::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("beefirst: {reason}");
            ExitCode::FAILURE
        }
    }
}
