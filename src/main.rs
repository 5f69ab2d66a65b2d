//! The `beefirst` binary: `--help`, configuration from the environment, then [`beefirst::run`]
//! (or [`beefirst::healthcheck`] with `--healthcheck`, for container health checks).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{}", beefirst::config::help_text());
        return ExitCode::SUCCESS;
    }
    let healthcheck = args.first().is_some_and(|a| a == "--healthcheck");
    if let Some(unknown) = args.iter().find(|a| *a != "--healthcheck") {
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
    let outcome = if healthcheck { beefirst::healthcheck(&config) } else { beefirst::run(config) };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("beefirst: {reason}");
            ExitCode::FAILURE
        }
    }
}
