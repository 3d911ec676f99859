//! What a packager installs next to the binary, generated from the command
//! line itself so it never drifts from it: shell completions
//! (`netkit completions SHELL`) and man pages (`netkit man [--dir DIR]`).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Command};
use clap_complete::Shell;

/// `netkit completions SHELL`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  netkit completions bash > /usr/share/bash-completion/completions/netkit
  netkit completions zsh > /usr/local/share/zsh/site-functions/_netkit
  netkit completions fish > ~/.config/fish/completions/netkit.fish")]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: Shell,
}

/// `netkit man [--dir DIR]`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  netkit man | man -l -                       read netkit(1) now
  netkit man --dir /usr/local/share/man/man1  install netkit.1, netkit-http.1, ...")]
pub struct ManArgs {
    /// Write one page per command (netkit.1, netkit-http.1, netkit-files-serve.1,
    /// ...) into this directory instead of netkit(1) to stdout
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Writes the completion script for `shell` to `out`.
pub fn completions(mut cmd: Command, shell: Shell, out: &mut dyn Write) -> Result<()> {
    let name = cmd.get_name().to_string();
    cmd.build();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut script);
    emit(out, &script).context("writing the completion script")
}

/// Writes `bytes` to `out`; a reader that went away (`| head`) is not an error.
fn emit(out: &mut dyn Write, bytes: &[u8]) -> std::io::Result<()> {
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// netkit(1) to `out`, or every command's page into `args.dir`; the names
/// of the files written.
pub fn man(cmd: Command, args: &ManArgs, out: &mut dyn Write) -> Result<Vec<PathBuf>> {
    let mut cmd = cmd;
    cmd.build();
    match &args.dir {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut page)
                .context("rendering the man page")?;
            emit(out, &page).context("writing the man page")?;
            Ok(Vec::new())
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let mut written = Vec::new();
            pages(&cmd, dir, &mut written)?;
            Ok(written)
        }
    }
}

/// The page of `cmd` (named by its full path: `netkit-files-serve.1`) and
/// those of its subcommands, `help` left out.
fn pages(cmd: &Command, dir: &Path, written: &mut Vec<PathBuf>) -> Result<()> {
    if cmd.is_hide_set() {
        return Ok(());
    }
    let man = clap_mangen::Man::new(cmd.clone());
    let path = dir.join(man.get_filename());
    let mut page = Vec::new();
    man.render(&mut page).context("rendering a man page")?;
    std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
    written.push(path);
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        // A subcommand's page carries its whole name, as git's do.
        let full = format!("{}-{}", cmd.get_name(), sub.get_name());
        let mut sub = sub
            .clone()
            .name(full.clone())
            .bin_name(full.replace('-', " "));
        if let Some(v) = cmd.get_version() {
            sub = sub.version(v.to_string());
        }
        pages(&sub, dir, written)?;
    }
    Ok(())
}
