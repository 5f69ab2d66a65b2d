//! The `beefirst` binary: `--help`, configuration from the environment, then [`beefirst::run`]
//! (or [`beefirst::healthcheck`] with `--healthcheck`, for container health checks, or
//! [`beefirst::admin_command`] with `admin grant|revoke EMAIL`, [`beefirst::import_command`] with
//! `import [--dry-run] FILE|-`, [`beefirst::export_command`] with `export`).

use std::process::ExitCode;

/// What the arguments ask for.
enum Command {
    Serve,
    Healthcheck,
    /// `admin grant EMAIL` (true) or `admin revoke EMAIL` (false).
    Admin {
        grant: bool,
        email: String,
    },
    /// `import [--dry-run] FILE|-`.
    Import {
        dry_run: bool,
        source: String,
    },
    /// `export`.
    Export,
}

fn parse(args: &[String]) -> Result<Command, String> {
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => Ok(Command::Serve),
        ["--healthcheck"] => Ok(Command::Healthcheck),
        ["admin", verb @ ("grant" | "revoke"), email] => {
            Ok(Command::Admin { grant: *verb == "grant", email: (*email).to_owned() })
        }
        ["admin", ..] => Err("usage: beefirst admin grant|revoke EMAIL".into()),
        ["import", "--dry-run", source] => {
            Ok(Command::Import { dry_run: true, source: (*source).to_owned() })
        }
        ["import", source] if !source.starts_with("--") => {
            Ok(Command::Import { dry_run: false, source: (*source).to_owned() })
        }
        ["import", ..] => Err("usage: beefirst import [--dry-run] FILE|-".into()),
        ["export"] => Ok(Command::Export),
        ["export", ..] => Err("usage: beefirst export > FILE".into()),
        [unknown, ..] => Err(format!(
            "unknown argument {unknown:?}; settings come from the environment, see --help"
        )),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{}", beefirst::config::help_text());
        return ExitCode::SUCCESS;
    }
    let command = match parse(&args) {
        Ok(command) => command,
        Err(why) => {
            eprintln!("beefirst: {why}");
            return ExitCode::from(2);
        }
    };
    let config = match beefirst::config::Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("beefirst: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = match command {
        Command::Serve => beefirst::run(config),
        Command::Healthcheck => beefirst::healthcheck(&config),
        Command::Admin { grant, email } => {
            beefirst::admin_command(&config, grant, &email).map(|line| println!("{line}"))
        }
        Command::Import { dry_run, source } => {
            match beefirst::import_command(&config, &source, dry_run) {
                Ok(true) => Ok(()),
                Ok(false) => return ExitCode::FAILURE, // bad lines, each reported on stderr
                Err(reason) => Err(reason),
            }
        }
        Command::Export => beefirst::export_command(&config),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("beefirst: {reason}");
            ExitCode::FAILURE
        }
    }
}
