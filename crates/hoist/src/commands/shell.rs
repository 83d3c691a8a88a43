//! `hoist completions` and `hoist man`: shell completions and man pages generated from the
//! binary's own clap definitions, so they cannot drift from the flags.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap_complete::Shell;

/// Print a shell's completion script.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: Shell,
}

/// Write the man pages, or print one.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write hoist.1 and one page per subcommand (hoist-serve.1, …) into this directory.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    dir: Option<PathBuf>,
    /// Print this subcommand's page instead of hoist.1.
    #[arg(value_name = "SUBCOMMAND")]
    command: Option<String>,
}

pub fn completions(args: CompletionsArgs, mut cli: clap::Command) -> anyhow::Result<ExitCode> {
    let name = cli.get_name().to_owned();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cli, name, &mut script);
    crate::output::product(&String::from_utf8_lossy(&script));
    Ok(ExitCode::SUCCESS)
}

pub fn man(args: ManArgs, cli: clap::Command) -> anyhow::Result<ExitCode> {
    if let Some(dir) = args.dir {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        clap_mangen::generate_to(cli, &dir)
            .with_context(|| format!("writing man pages into {}", dir.display()))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut cli = cli;
    cli.build();
    let page = match args.command {
        None => cli,
        Some(name) => {
            let sub = cli
                .get_subcommands()
                .find(|sub| sub.get_name() == name && !sub.is_hide_set())
                .with_context(|| format!("no subcommand {name:?}"))?;
            // The page's title is the full command, as generate_to names the file.
            sub.clone()
                .name(format!("hoist-{name}"))
                .display_name(format!("hoist-{name}"))
        }
    };
    let mut text = Vec::new();
    clap_mangen::Man::new(page).render(&mut text)?;
    crate::output::product(&String::from_utf8_lossy(&text));
    Ok(ExitCode::SUCCESS)
}
