//! The command line's checks that clap cannot make from one option alone: a peer crate's row
//! asked for in a build without `--features peers` (say how to build it), and two charts into
//! one file. Each is a usage error, one line and exit status 2, as a bad value is.

use clap::error::ErrorKind;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};

use crate::Cli;
use crate::chart_path::landing;
use crate::measure::mechanisms;

/// The command line, with the checks that need more than one option: two charts into one file
/// is a usage error, as a bad value is.
pub struct Checked(pub Cli);

impl FromArgMatches for Checked {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let cli = Cli::from_arg_matches(matches)?;
        if let Some(name) = cli
            .only
            .iter()
            .find(|n| mechanisms::unbuilt().contains(&n.as_str()))
        {
            return Err(Cli::command().error(
                ErrorKind::InvalidValue,
                format!(
                    "--only {name}: the peer crates' rows are built only with `--features \
                     peers` (cargo run --release -p compare --features peers -- --only {})",
                    cli.only.join(",")
                ),
            ));
        }
        if let (Some(plot), Some(other)) = (&cli.plot, &cli.plot_throughput)
            && landing(plot) == landing(other)
        {
            return Err(Cli::command().error(
                ErrorKind::ArgumentConflict,
                format!(
                    "--plot {} and --plot-throughput {} name the same file: give each its own",
                    plot.display(),
                    other.display()
                ),
            ));
        }
        Ok(Checked(cli))
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(matches)
    }
}

impl CommandFactory for Checked {
    fn command() -> clap::Command {
        Cli::command()
    }

    fn command_for_update() -> clap::Command {
        Cli::command_for_update()
    }
}

impl Parser for Checked {}
