//! Options of the server subcommands from a TOML file (`--config FILE`) and
//! from `NETKIT_*` environment variables, as well as from the command line.
//!
//! Nothing here knows the options by name: every option a server subcommand
//! has (its clap [`Command`]) is a key of the file and a variable, so an
//! option added later is configurable at once. A server subcommand is one
//! that takes the [`ServerArgs`](super::ServerArgs) every server takes.
//!
//! How: the command line is parsed once, leniently, to learn the subcommand
//! and which options were given on it; the file and the environment are
//! read and checked (unknown keys, wrong types); every option not given on
//! the command line that the environment or the file sets becomes
//! `--long=value` tokens (a positional such as `root` goes after `--`); and
//! the combined command line is parsed again, strictly, so every value goes
//! through the same clap value parsers and relations (`requires`,
//! `conflicts_with`) as if it had been typed. An error about a value that
//! came from the file or the environment names its key or variable.
//!
//! Precedence: command line > environment > file > defaults. The rules are
//! documented for users in docs/config.md.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Args, Command, CommandFactory, FromArgMatches};

use super::ServerArgs;

/// The id and long name of the option that names the config file.
pub const CONFIG: &str = "config";

/// The prefix of the environment variables (`NETKIT_PORT`, `NETKIT_MAX_BODY`).
pub const ENV_PREFIX: &str = "NETKIT_";

/// What `--config` says in every server's `--help`.
const CONFIG_HELP: &str = "Read options from this TOML file (also NETKIT_CONFIG); keys are \
    the long option names. The command line overrides NETKIT_* environment variables, which \
    override the file (docs/config.md)";

/// Parses the process's command line into `P`, with the options of a server
/// subcommand also taken from `NETKIT_*` variables and the `--config` file;
/// on an error prints it (on stderr, exit status 2) or the help, and exits,
/// like [`clap::Parser::parse`].
pub fn parse<P: FromArgMatches + CommandFactory>() -> P {
    parse_from(std::env::args_os(), std::env::vars_os()).unwrap_or_else(|e| e.exit())
}

/// [`parse`] with the command line (program name first) and the environment given.
pub fn parse_from<P, I, T, E>(args: I, env: E) -> Result<P, clap::Error>
where
    P: FromArgMatches + CommandFactory,
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
    E: IntoIterator<Item = (OsString, OsString)>,
{
    let mut cmd = command::<P>();
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let env: Vec<(OsString, OsString)> = env
        .into_iter()
        .filter(|(k, _)| k.to_str().is_some_and(|k| k.starts_with(ENV_PREFIX)))
        .collect();
    let mut matches = matches(&cmd, args, &env)?;
    P::from_arg_matches_mut(&mut matches).map_err(|e| e.format(&mut cmd))
}

/// `P`'s command with `--config FILE` added to every server subcommand and
/// its help tailored to the models that can serve it ([`super::help`]).
pub fn command<P: CommandFactory>() -> Command {
    super::help::tailor(with_config_option(P::command(), &server_ids()))
}

/// The ids of the options every server takes: a subcommand that has them
/// all is a server subcommand.
fn server_ids() -> Vec<String> {
    ServerArgs::augment_args(Command::new("probe"))
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect()
}

fn is_server(cmd: &Command, ids: &[String]) -> bool {
    cmd.get_subcommands().next().is_none()
        && ids
            .iter()
            .all(|id| cmd.get_arguments().any(|a| a.get_id() == id))
}

fn with_config_option(mut cmd: Command, ids: &[String]) -> Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(name, |sub| with_config_option(sub, ids));
    }
    if is_server(&cmd, ids) {
        cmd = cmd.arg(
            Arg::new(CONFIG)
                .long(CONFIG)
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .help(CONFIG_HELP)
                .help_heading(None)
                .display_order(0),
        );
    }
    cmd
}

/// How an option takes what a file or a variable says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A flag (`--hidden`): true gives it, false leaves it out.
    Flag,
    /// A counted flag (`-v`): a number of times, or true for once.
    Count,
    /// An option with a value; `repeatable` ones take arrays.
    Value { repeatable: bool },
}

fn kind(arg: &Arg) -> Option<Kind> {
    match arg.get_action() {
        ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version => None,
        ArgAction::SetTrue | ArgAction::SetFalse => Some(Kind::Flag),
        ArgAction::Count => Some(Kind::Count),
        ArgAction::Append => Some(Kind::Value { repeatable: true }),
        _ => Some(Kind::Value {
            repeatable: arg.get_num_args().is_some_and(|n| n.max_values() > 1),
        }),
    }
}

/// An option's key in a file: its long name (`max-body`), or its id for a
/// positional (`root`).
fn key(arg: &Arg) -> String {
    arg.get_long()
        .map_or_else(|| arg.get_id().to_string(), str::to_string)
}

/// A key as written (`max_body` is `max-body`).
fn normal(key: &str) -> String {
    key.replace('_', "-")
}

/// An option's environment variable: `NETKIT_MAX_BODY`.
pub fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.replace('-', "_").to_ascii_uppercase())
}

/// The options of a (built) server subcommand that a file or a variable may set.
fn options(cmd: &Command) -> Vec<(&Arg, Kind)> {
    cmd.get_arguments()
        .filter(|a| a.get_id() != CONFIG)
        .filter_map(|a| kind(a).map(|k| (a, k)))
        .collect()
}

/// What a file or a variable gives an option.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Given {
    Flag(bool),
    Count(u8),
    Values(Vec<String>),
}

/// Where a setting came from, as errors name it.
#[derive(Debug, Clone)]
enum Source {
    Env(String),
    File { path: PathBuf, key: String },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Env(var) => write!(f, "{var}"),
            Source::File { path, key } => write!(f, "{}, key '{key}'", path.display()),
        }
    }
}

fn usage_error(kind: ErrorKind, message: impl std::fmt::Display) -> clap::Error {
    clap::Error::raw(kind, format!("{message}\n"))
}

/// The matches of the command line, the environment and the file together.
fn matches(
    cmd: &Command,
    args: Vec<OsString>,
    env: &[(OsString, OsString)],
) -> Result<ArgMatches, clap::Error> {
    let strict = |args: &[OsString]| cmd.clone().try_get_matches_from(args);
    // The lenient parse only learns the subcommand and what the command line
    // gives; the strict parse at the end reports whatever is wrong with it.
    let Ok(lenient) = cmd.clone().ignore_errors(true).try_get_matches_from(&args) else {
        return strict(&args);
    };
    let mut built = cmd.clone();
    built.build();
    let mut path = Vec::new();
    let (mut leaf, mut leaf_matches) = (&built, &lenient);
    while let Some((name, sub_matches)) = leaf_matches.subcommand() {
        let Some(sub) = leaf.find_subcommand(name) else {
            return strict(&args);
        };
        path.push(name.to_string());
        (leaf, leaf_matches) = (sub, sub_matches);
    }
    let ids = server_ids();
    if path.is_empty() || !is_server(leaf, &ids) {
        return strict(&args);
    }
    let on_command_line =
        |id: &str| leaf_matches.value_source(id) == Some(ValueSource::CommandLine);

    // Lowest precedence first: the file, then the environment.
    let mut settings: BTreeMap<String, (Given, Source)> = BTreeMap::new();
    let config = if on_command_line(CONFIG) {
        leaf_matches.get_one::<PathBuf>(CONFIG).cloned()
    } else {
        env_value(env, &env_name(CONFIG))?
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(file) = &config {
        let servers = server_sections(&built, &ids);
        for (id, given, key) in read_file(file, &path[0], &servers)? {
            let source = Source::File {
                path: file.clone(),
                key,
            };
            settings.insert(id, (given, source));
        }
    }
    let opts = options(leaf);
    for (arg, kind) in &opts {
        let var = env_name(&key(arg));
        if let Some(value) = env_value(env, &var)?.filter(|v| !v.is_empty()) {
            let given = from_env(*kind, &value).map_err(|why| {
                usage_error(
                    ErrorKind::InvalidValue,
                    format!("{var}: {why}, not '{value}'"),
                )
            })?;
            settings.insert(arg.get_id().to_string(), (given, Source::Env(var)));
        }
    }
    settings.retain(|id, _| !on_command_line(id));
    if settings.is_empty() {
        return strict(&args);
    }

    // The combined command line: options before a `--` (if there is one),
    // positionals after it.
    let (mut flags, mut positionals) = (Vec::new(), Vec::new());
    let mut used = Vec::new();
    for (arg, _) in &opts {
        let Some((given, source)) = settings.get(arg.get_id().as_str()) else {
            continue;
        };
        let tokens = tokens(arg, given)
            .map_err(|why| usage_error(ErrorKind::InvalidValue, format!("{source}: {why}")))?;
        if arg.is_positional() {
            positionals.push((*arg, tokens, source));
        } else {
            flags.extend(tokens);
        }
        used.push((*arg, source));
    }
    // A positional from the file or the environment lands in its place only
    // if every positional before it is given.
    let mut given_positionals: Vec<&Arg> = opts
        .iter()
        .map(|(a, _)| *a)
        .filter(|a| a.is_positional() && on_command_line(a.get_id().as_str()))
        .collect();
    positionals.sort_by_key(|(a, _, _)| a.get_index());
    for (arg, _, source) in &positionals {
        let missing = opts.iter().map(|(a, _)| *a).find(|a| {
            a.is_positional()
                && a.get_index() < arg.get_index()
                && !given_positionals.iter().any(|g| g.get_id() == a.get_id())
        });
        if let Some(missing) = missing {
            return Err(usage_error(
                ErrorKind::MissingRequiredArgument,
                format!("{source} needs '{}' set too", key(missing)),
            ));
        }
        given_positionals.push(arg);
    }
    let mut combined = args;
    let dashes = combined
        .iter()
        .skip(1)
        .position(|a| a == "--")
        .map(|i| i + 1);
    let at = dashes.unwrap_or(combined.len());
    combined.splice(at..at, flags.into_iter().map(OsString::from));
    if !positionals.is_empty() {
        if dashes.is_none() {
            combined.push("--".into());
        }
        for (_, tokens, _) in positionals {
            combined.extend(tokens.into_iter().map(OsString::from));
        }
    }
    strict(&combined).map_err(|e| attribute(e, &used))
}

/// The value of a variable, if set; a value that is not UTF-8 is an error.
fn env_value(env: &[(OsString, OsString)], var: &str) -> Result<Option<String>, clap::Error> {
    match env.iter().rev().find(|(k, _)| k == var) {
        None => Ok(None),
        Some((_, v)) => v.to_str().map(|v| Some(v.to_string())).ok_or_else(|| {
            usage_error(
                ErrorKind::InvalidUtf8,
                format!("{var}: the value is not UTF-8"),
            )
        }),
    }
}

/// The command-line tokens that give `arg` what a file or a variable says.
fn tokens(arg: &Arg, given: &Given) -> Result<Vec<String>, String> {
    let flag = || match (arg.get_long(), arg.get_short()) {
        (Some(long), _) => format!("--{long}"),
        (None, Some(short)) => format!("-{short}"),
        (None, None) => format!("--{}", arg.get_id()),
    };
    Ok(match given {
        Given::Flag(true) => vec![flag()],
        Given::Flag(false) => {
            let off = arg.get_default_values().iter().all(|d| d == "false");
            if matches!(arg.get_action(), ArgAction::SetTrue) && !off {
                return Err(format!(
                    "{} is on by default and cannot be turned off",
                    flag()
                ));
            }
            Vec::new()
        }
        Given::Count(n) => vec![flag(); usize::from(*n)],
        Given::Values(values) if arg.is_positional() => values.clone(),
        Given::Values(values)
            if matches!(arg.get_action(), ArgAction::Append) || values.len() < 2 =>
        {
            values.iter().map(|v| format!("{}={v}", flag())).collect()
        }
        Given::Values(values) => std::iter::once(flag()).chain(values.clone()).collect(),
    })
}

/// True if the option's values are `true` and `false` (a bool-valued option, not a flag).
fn takes_bool(arg: &Arg) -> bool {
    let values = arg.get_possible_values();
    values.len() == 2
        && values.iter().any(|v| v.matches("true", false))
        && values.iter().any(|v| v.matches("false", false))
}

/// A variable's value for `arg`, or what was expected instead.
fn from_env(kind: Kind, value: &str) -> Result<Given, String> {
    let boolean = match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" => Some(true),
        "0" | "false" | "no" => Some(false),
        _ => None,
    };
    match kind {
        Kind::Flag => boolean
            .map(Given::Flag)
            .ok_or_else(|| "expected 1, true or yes, or 0, false or no".to_string()),
        Kind::Count => match value.parse::<u8>() {
            Ok(n) => Ok(Given::Count(n)),
            Err(_) => boolean
                .map(|b| Given::Count(b.into()))
                .ok_or_else(|| "expected a count, or true or false".to_string()),
        },
        Kind::Value { .. } => Ok(Given::Values(vec![value.to_string()])),
    }
}

/// A file's value for `arg`, or what was expected instead.
fn from_toml(arg: &Arg, kind: Kind, value: &toml::Value) -> Result<Given, String> {
    use toml::Value as V;
    let found = |v: &V| match v {
        V::String(s) => format!("the string \"{s}\""),
        V::Integer(i) => format!("the integer {i}"),
        V::Float(x) => format!("the number {x}"),
        V::Boolean(b) => format!("{b}"),
        V::Datetime(d) => format!("the date {d}"),
        V::Array(_) => "an array".to_string(),
        V::Table(_) => "a table".to_string(),
    };
    let scalar = |v: &V| match v {
        V::String(s) => Some(s.clone()),
        V::Integer(i) => Some(i.to_string()),
        V::Float(x) => Some(x.to_string()),
        V::Boolean(b) if takes_bool(arg) => Some(b.to_string()),
        _ => None,
    };
    match (kind, value) {
        (Kind::Flag, V::Boolean(b)) => Ok(Given::Flag(*b)),
        (Kind::Flag, v) => Err(format!("must be true or false, not {}", found(v))),
        (Kind::Count, V::Boolean(b)) => Ok(Given::Count((*b).into())),
        (Kind::Count, V::Integer(n)) if (0..=255).contains(n) => Ok(Given::Count(*n as u8)),
        (Kind::Count, v) => Err(format!("must be a count or true, not {}", found(v))),
        (Kind::Value { repeatable }, V::Array(items)) => {
            if !repeatable {
                return Err(
                    "takes one value, not an array (only repeatable options take arrays)"
                        .to_string(),
                );
            }
            items
                .iter()
                .map(|v| {
                    scalar(v).ok_or_else(|| {
                        format!("takes strings or numbers in its array, not {}", found(v))
                    })
                })
                .collect::<Result<_, _>>()
                .map(Given::Values)
        }
        (Kind::Value { repeatable }, v) => {
            scalar(v).map(|s| Given::Values(vec![s])).ok_or_else(|| {
                let what = if repeatable {
                    "a string, a number or an array of them"
                } else {
                    "a string or a number"
                };
                format!("takes {what}, not {}", found(v))
            })
        }
    }
}

/// Every server subcommand as the file's section for it (its top-level
/// command's name: `http`, `files`, `ftp`, `echo`, `chat`) and its command.
fn server_sections<'a>(root: &'a Command, ids: &[String]) -> Vec<(String, String, &'a Command)> {
    fn walk<'a>(
        cmd: &'a Command,
        path: &mut Vec<String>,
        ids: &[String],
        out: &mut Vec<(String, String, &'a Command)>,
    ) {
        for sub in cmd.get_subcommands() {
            path.push(sub.get_name().to_string());
            if is_server(sub, ids) {
                out.push((path[0].clone(), path.join(" "), sub));
            }
            walk(sub, path, ids, out);
            path.pop();
        }
    }
    let mut out = Vec::new();
    walk(root, &mut Vec::new(), ids, &mut out);
    out
}

/// Reads and checks a config file: every key of its top level and of every
/// section must be an option of the command it is for, with a value of the
/// right type. Returns the settings for the running command, whose section
/// is `section`: its top-level keys, then its section's (which win), as
/// (arg id, value, key as written).
fn read_file(
    path: &Path,
    section: &str,
    servers: &[(String, String, &Command)],
) -> Result<Vec<(String, Given, String)>, clap::Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        usage_error(
            ErrorKind::Io,
            format!("cannot read config file {}: {e}", path.display()),
        )
    })?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        usage_error(
            ErrorKind::InvalidValue,
            format!(
                "{} is not valid TOML: {}",
                path.display(),
                e.to_string().trim_end()
            ),
        )
    })?;
    let running = servers
        .iter()
        .find(|(s, _, _)| s == section)
        .expect("the running command is a server");
    let is_section =
        |k: &str, v: &toml::Value| v.is_table() && servers.iter().any(|(s, _, _)| s == k);
    let top = table.iter().filter(|(k, v)| !is_section(k, v));
    let mut out = check_table(path, None, running, top)?;
    for (name, value) in table.iter().filter(|(k, v)| is_section(k, v)) {
        let server = servers
            .iter()
            .find(|(s, _, _)| s == name)
            .expect("a section");
        let keys = value.as_table().expect("a table").iter();
        let checked = check_table(path, Some(name), server, keys)?;
        if name == section {
            out.extend(checked);
        }
    }
    Ok(out)
}

/// Checks one table's keys against a server command's options.
fn check_table<'t>(
    path: &Path,
    section: Option<&str>,
    (_, name, cmd): &(String, String, &Command),
    keys: impl Iterator<Item = (&'t String, &'t toml::Value)>,
) -> Result<Vec<(String, Given, String)>, clap::Error> {
    let opts = options(cmd);
    let shown = |k: &str| match section {
        Some(s) => format!("{s}.{k}"),
        None => k.to_string(),
    };
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut out = Vec::new();
    for (k, value) in keys {
        let here = || format!("{}, key '{}'", path.display(), shown(k));
        if normal(k) == CONFIG {
            return Err(usage_error(
                ErrorKind::UnknownArgument,
                format!("{}: a config file cannot name another one", here()),
            ));
        }
        let Some((arg, kind)) = opts.iter().find(|(a, _)| key(a) == normal(k)) else {
            let mut message = format!(
                "unknown key '{}' in {} (netkit {name} has no such option)",
                shown(k),
                path.display()
            );
            let best = opts
                .iter()
                .map(|(a, _)| key(a))
                .map(|cand| (strsim::jaro(&normal(k), &cand), cand))
                .filter(|(score, _)| *score > 0.7)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((_, cand)) = best {
                message.push_str(&format!("\n\n  tip: a similar key exists: '{cand}'"));
            }
            return Err(usage_error(ErrorKind::UnknownArgument, message));
        };
        if let Some(other) = seen.insert(key(arg), k.clone()) {
            return Err(usage_error(
                ErrorKind::ArgumentConflict,
                format!("{}: the same option as key '{}'", here(), shown(&other)),
            ));
        }
        let given = from_toml(arg, *kind, value)
            .map_err(|why| usage_error(ErrorKind::InvalidValue, format!("{}: {why}", here())))?;
        out.push((arg.get_id().to_string(), given, shown(k)));
    }
    Ok(out)
}

/// Names the file key or the variable behind the option a clap error is
/// about (the value is bad, or it conflicts), or else says that options came
/// from them.
fn attribute(error: clap::Error, used: &[(&Arg, &Source)]) -> clap::Error {
    let source_of = |kind: ContextKind| match error.get(kind) {
        Some(ContextValue::String(shown)) => used
            .iter()
            .find(|(arg, _)| {
                *shown == arg.to_string()
                    || arg.get_long().is_some_and(|l| {
                        let l = format!("--{l}");
                        shown == &l || shown.starts_with(&format!("{l} "))
                    })
            })
            .map(|(_, source)| source.to_string()),
        _ => None,
    };
    let sources: Vec<String> = [ContextKind::InvalidArg, ContextKind::PriorArg]
        .into_iter()
        .filter_map(source_of)
        .collect();
    let relation = matches!(
        error.kind(),
        ErrorKind::ArgumentConflict | ErrorKind::MissingRequiredArgument
    );
    if sources.is_empty() && !relation {
        return error;
    }
    let rendered = error.render().to_string();
    let body = rendered.strip_prefix("error: ").unwrap_or(&rendered);
    let text = if sources.is_empty() {
        let all: Vec<String> = used.iter().map(|(_, s)| s.to_string()).collect();
        let (first, rest) = body.split_once("\n\n").unwrap_or((body, ""));
        let note = format!("  note: options also set by {}", all.join("; "));
        format!("{first}\n\n{note}\n\n{rest}")
    } else {
        format!("{}: {body}", sources.join(" and "))
    };
    clap::Error::raw(error.kind(), text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::logging::LogArgs;
    use clap::{Parser, Subcommand};
    use std::time::Duration;

    /// The binary's server subcommands (and one client, which takes no config).
    #[derive(Parser, Debug)]
    #[command(name = "netkit")]
    struct Cli {
        #[command(subcommand)]
        command: Cmd,
        #[command(flatten)]
        log: LogArgs,
    }

    #[derive(Subcommand, Debug)]
    enum Cmd {
        Http(Box<crate::http::cli::HttpArgs>),
        #[command(subcommand)]
        Files(crate::files::cli::FilesCmd),
        #[command(subcommand)]
        Ftp(crate::ftp::cli::FtpCmd),
        #[command(subcommand)]
        Echo(crate::tools::echo::cli::EchoCmd),
        #[command(subcommand)]
        Chat(crate::chat::cli::ChatCmd),
    }

    fn env(vars: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        vars.iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    fn try_parse(args: &[&str], vars: &[(&str, &str)]) -> Result<Cli, String> {
        let all = std::iter::once("netkit").chain(args.iter().copied());
        parse_from::<Cli, _, _, _>(all, env(vars)).map_err(|e| e.to_string())
    }

    fn http(args: &[&str], vars: &[(&str, &str)]) -> crate::http::cli::HttpArgs {
        match try_parse(&[&["http"], args].concat(), vars) {
            Ok(Cli {
                command: Cmd::Http(a),
                ..
            }) => *a,
            Ok(other) => panic!("not http: {other:?}"),
            Err(e) => panic!("{e}"),
        }
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
        f
    }

    fn path(f: &tempfile::NamedTempFile) -> &str {
        f.path().to_str().unwrap()
    }

    #[test]
    fn every_server_subcommand_and_only_those_take_config() {
        let cmd = command::<Cli>();
        let mut servers: Vec<String> = server_sections(&cmd, &server_ids())
            .into_iter()
            .map(|(_, name, sub)| {
                assert!(sub.get_arguments().any(|a| a.get_id() == CONFIG));
                name
            })
            .collect();
        // In any order: tailoring the help (help.rs) re-adds what it changes.
        servers.sort();
        assert_eq!(
            servers,
            [
                "chat serve",
                "echo serve",
                "files serve",
                "ftp serve",
                "http"
            ]
        );
        let client = cmd.find_subcommand("files").unwrap().find_subcommand("ls");
        assert!(
            !client
                .unwrap()
                .get_arguments()
                .any(|a| a.get_id() == CONFIG)
        );
    }

    #[test]
    fn a_file_sets_values_flags_and_the_positional_root() {
        let f = file(
            "root = \"/srv\"\nport = 9000\nbind = \"::1\"\nmodel = \"thread\"\n\
             max_body = \"2M\"\nhidden = true\nupload = false\nworkers = 3\n",
        );
        let a = http(&["--config", path(&f)], &[]);
        assert_eq!(a.root.as_deref(), Some(Path::new("/srv")));
        assert_eq!(a.server.port, 9000);
        assert_eq!(a.server.bind, "::1");
        assert_eq!(a.server.model, crate::server::Model::Thread);
        assert_eq!(a.max_body, 2 * 1024 * 1024);
        assert_eq!(a.server.workers, Some(3));
        assert!(a.hidden && !a.share.upload);
    }

    #[test]
    fn command_line_over_environment_over_file_over_defaults() {
        let f = file("port = 9000\nbind = \"0.0.0.0\"\nmax-body = \"2M\"\n");
        let vars = [("NETKIT_CONFIG", path(&f)), ("NETKIT_PORT", "9100")];
        let a = http(&["--port", "9200"], &vars);
        assert_eq!((a.server.port, a.server.bind.as_str()), (9200, "0.0.0.0"));
        let a = http(&[], &vars);
        assert_eq!(a.server.port, 9100);
        assert_eq!(a.max_body, 2 * 1024 * 1024);
        let a = http(&[], &[("NETKIT_MAX_BODY", "1K")]);
        assert_eq!((a.server.port, a.max_body), (8000, 1024));
        // --config on the command line wins over NETKIT_CONFIG.
        let g = file("port = 9300\n");
        let a = http(&["--config", path(&g)], &[("NETKIT_CONFIG", path(&f))]);
        assert_eq!((a.server.port, a.server.bind.as_str()), (9300, "127.0.0.1"));
        // A root on the command line wins over the file's.
        let r = file("root = \"/srv\"\n");
        let a = http(&["--config", path(&r), "/tmp"], &[]);
        assert_eq!(a.root.as_deref(), Some(Path::new("/tmp")));
    }

    #[test]
    fn environment_booleans_and_false_turning_a_file_flag_off() {
        for yes in ["1", "true", "YES"] {
            assert!(http(&[], &[("NETKIT_HIDDEN", yes)]).hidden);
        }
        let f = file("hidden = true\n");
        for no in ["0", "false", "no"] {
            let a = http(&["--config", path(&f)], &[("NETKIT_HIDDEN", no)]);
            assert!(!a.hidden, "NETKIT_HIDDEN={no}");
        }
        let e = try_parse(&["http"], &[("NETKIT_HIDDEN", "maybe")]).unwrap_err();
        assert!(e.contains("NETKIT_HIDDEN") && e.contains("'maybe'"), "{e}");
    }

    #[test]
    fn unknown_variables_are_ignored_and_bad_values_name_the_variable() {
        // Another subcommand's option, and a variable that is no option at all.
        let a = http(&[], &[("NETKIT_LANG", "zh"), ("NETKIT_SCREENSHOTS", "1")]);
        assert_eq!(a.server.port, 8000);
        let e = try_parse(&["http"], &[("NETKIT_MAX_BODY", "lots")]).unwrap_err();
        assert!(
            e.starts_with("error: NETKIT_MAX_BODY: invalid value 'lots'"),
            "{e}"
        );
        let e = try_parse(&["http"], &[("NETKIT_MODEL", "threads")]).unwrap_err();
        assert!(
            e.starts_with("error: NETKIT_MODEL: invalid value 'threads'"),
            "{e}"
        );
        // An empty variable is as if unset.
        assert_eq!(http(&[], &[("NETKIT_PORT", "")]).server.port, 8000);
    }

    #[test]
    fn unknown_keys_wrong_types_and_bad_values_name_the_file_and_key() {
        let f = file("prot = 9000\n");
        let e = try_parse(&["http", "--config", path(&f)], &[]).unwrap_err();
        assert!(
            e.contains("unknown key 'prot'") && e.contains(path(&f)),
            "{e}"
        );
        assert!(e.contains("a similar key exists: 'port'"), "{e}");

        let cases = [
            (
                "port = true\n",
                "key 'port': takes a string or a number, not true",
            ),
            (
                "hidden = \"yes\"\n",
                "key 'hidden': must be true or false, not the string",
            ),
            (
                "bind = [\"a\", \"b\"]\n",
                "key 'bind': takes one value, not an array",
            ),
            (
                "port = { a = 1 }\n",
                "key 'port': takes a string or a number, not a table",
            ),
            (
                "max-body = \"1X\"\n",
                "key 'max-body': invalid value '1X' for '--max-body",
            ),
            (
                "port = 70000\n",
                "key 'port': invalid value '70000' for '--port",
            ),
            ("port = 1\nport_x = 2\n", "unknown key 'port_x'"),
            (
                "max-body = \"1M\"\nmax_body = \"2M\"\n",
                "key 'max_body': the same option",
            ),
            ("config = \"x.toml\"\n", "cannot name another"),
            ("port = \n", "is not valid TOML"),
        ];
        for (text, needle) in cases {
            let f = file(text);
            let e = try_parse(&["http", "--config", path(&f)], &[]).unwrap_err();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
        let e = try_parse(&["http", "--config", "/nonexistent/netkit.toml"], &[]).unwrap_err();
        assert!(
            e.contains("cannot read config file /nonexistent/netkit.toml"),
            "{e}"
        );
    }

    #[test]
    fn relations_hold_across_sources() {
        // --overwrite (command line) requires --upload (file): satisfied.
        let f = file("upload = true\n");
        let a = http(&["--config", path(&f), "--overwrite"], &[]);
        assert!(a.share.upload && a.share.overwrite);
        // --overwrite from the file without --upload: the error names the key.
        let g = file("overwrite = true\n");
        let e = try_parse(&["http", "--config", path(&g)], &[]).unwrap_err();
        assert!(
            e.contains("key 'overwrite'") && e.contains("--upload"),
            "{e}"
        );
    }

    #[test]
    fn sections_for_each_command_and_top_level_keys_for_the_running_one() {
        let f = file(
            "port = 9000\n[http]\nhidden = true\nport = 9001\n\
             [files]\nwritable = true\n[ftp]\nuser = [\"a:h\", \"b:h\"]\n",
        );
        let a = http(&["--config", path(&f)], &[]);
        assert_eq!((a.server.port, a.hidden), (9001, true));
        let files = try_parse(&["files", "serve", "--config", path(&f)], &[]).unwrap();
        let Cmd::Files(crate::files::cli::FilesCmd::Serve(s)) = files.command else {
            panic!("not files serve")
        };
        assert_eq!(s.server.port, 9000);
        assert!(s.dir.writable);
        let ftp = try_parse(&["ftp", "serve", "--config", path(&f)], &[]).unwrap();
        let Cmd::Ftp(crate::ftp::cli::FtpCmd::Serve(s)) = ftp.command else {
            panic!("not ftp serve")
        };
        assert_eq!(s.users, ["a:h", "b:h"]);
        // A key of another command's section is checked too.
        let g = file("[files]\nhidden = true\n");
        let e = try_parse(&["http", "--config", path(&g)], &[]).unwrap_err();
        assert!(e.contains("unknown key 'files.hidden'"), "{e}");
        // A top-level key must suit the running command.
        let h = file("writable = true\n");
        let e = try_parse(&["http", "--config", path(&h)], &[]).unwrap_err();
        assert!(e.contains("unknown key 'writable'"), "{e}");
    }

    #[test]
    fn other_servers_and_global_options() {
        let f = file("udp = true\nport = 0\nquiet = true\n");
        let cli = try_parse(&["echo", "serve", "--config", path(&f)], &[]).unwrap();
        assert!(cli.log.quiet);
        let Cmd::Echo(crate::tools::echo::cli::EchoCmd::Serve { udp, server, .. }) = cli.command
        else {
            panic!("not echo serve")
        };
        assert!(udp);
        assert_eq!(server.port, 0);
        let cli = try_parse(&["chat", "serve"], &[("NETKIT_IDLE_TIMEOUT", "90s")]).unwrap();
        let Cmd::Chat(crate::chat::cli::ChatCmd::Serve(s)) = cli.command else {
            panic!("not chat serve")
        };
        assert_eq!(s.server.idle_timeout, Some(Duration::from_secs(90)));
        let cli = try_parse(&["-q", "http"], &[("NETKIT_QUIET", "1")]).unwrap();
        assert!(cli.log.quiet);
    }

    #[test]
    fn command_line_errors_and_help_are_clap_s_own() {
        let e = try_parse(&["http", "--prot", "1"], &[("NETKIT_PORT", "1")]).unwrap_err();
        assert!(e.contains("unexpected argument '--prot'"), "{e}");
        let e = try_parse(&["http", "--help"], &[]).unwrap_err();
        assert!(
            e.contains("--config <FILE>") && e.contains("NETKIT_CONFIG"),
            "{e}"
        );
    }
}
