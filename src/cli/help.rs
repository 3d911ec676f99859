//! Help that offers only what applies: each server subcommand's `--model`
//! lists the models that can serve it, and the options of models it cannot
//! run (`--edge` for a command epoll cannot serve, `--max-children` without
//! fork, ...) are left out of its help and completions. Derived from the
//! model facts ([`crate::server::ModelFacts`]) and what each command serves
//! ([`SERVES`]), so a new model or command needs no help text of its own.

use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Arg, Command};

use super::startup::Serves;
use crate::server::{self, Model};

/// What the server subcommands serve, by their path under `netkit`; one
/// that is not here is tailored as a session server (every model applies).
pub const SERVES: &[(&str, Serves)] = &[
    ("http", Serves::Sessions),
    ("echo serve", Serves::Sessions),
    ("files serve", Serves::Sessions),
    ("ftp serve", Serves::Handler),
    ("chat serve", Serves::Datagrams { stateless: false }),
];

/// The models that can serve `serves`, in [`Model::ALL`] order.
pub fn models_for(serves: Serves) -> Vec<Model> {
    Model::ALL
        .into_iter()
        .filter(|&m| match serves {
            Serves::Sessions => true,
            Serves::Handler => server::check_blocking(m).is_ok(),
            Serves::Datagrams { stateless } => server::check_datagram(m, stateless).is_ok(),
        })
        .collect()
}

/// `cmd` (the `netkit` command) with every server subcommand's help tailored.
pub fn tailor(mut cmd: Command) -> Command {
    for &(path, serves) in SERVES {
        let names: Vec<&str> = path.split(' ').collect();
        cmd = at(cmd, &names, &|sub| tailor_server(sub, serves));
    }
    cmd
}

/// Applies `f` to the subcommand at `path` (if there is one).
fn at(cmd: Command, path: &[&str], f: &dyn Fn(Command) -> Command) -> Command {
    match path {
        [] => f(cmd),
        [first, rest @ ..] => {
            if cmd.find_subcommand(first).is_none() {
                return cmd;
            }
            cmd.mut_subcommand(*first, |sub| at(sub, rest, f))
        }
    }
}

fn tailor_server(cmd: Command, serves: Serves) -> Command {
    let models = models_for(serves);
    let with_workers: Vec<&str> = models
        .iter()
        .filter(|m| m.has_workers())
        .map(|m| m.name())
        .collect();
    let has = |m: Model| models.contains(&m);
    let mut cmd = cmd.mut_arg("model", |a| {
        a.value_parser(ModelParser {
            shown: models.clone(),
        })
    });
    let workers_help = format!(
        "Worker threads/processes/loops ({}); default per model",
        with_workers.join(", ")
    );
    cmd = cmd.mut_arg("workers", |a| {
        hide_unless(a, !with_workers.is_empty()).help(workers_help)
    });
    cmd = cmd.mut_arg("edge", |a| hide_unless(a, has(Model::Epoll)));
    cmd = cmd.mut_arg("busy_poll", |a| hide_unless(a, has(Model::Epoll)));
    cmd = cmd.mut_arg("max_children", |a| hide_unless(a, has(Model::Fork)));
    cmd = cmd.mut_arg("queue", |a| hide_unless(a, has(Model::Pool)));
    if matches!(serves, Serves::Datagrams { .. }) {
        // Datagrams have no connections; the service bounds its members.
        cmd = cmd.mut_arg("max_connections", |a| a.hide(true));
    }
    cmd
}

fn hide_unless(arg: Arg, applies: bool) -> Arg {
    if applies { arg } else { arg.hide(true) }
}

/// `--model`'s parser: every model is accepted (so the refusal of one that
/// cannot serve is the framework's own one-line explanation), but only
/// those that can are listed in help and completions.
#[derive(Clone)]
struct ModelParser {
    shown: Vec<Model>,
}

impl TypedValueParser for ModelParser {
    type Value = Model;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Model, clap::Error> {
        let name = value.to_string_lossy();
        match Model::ALL.into_iter().find(|m| m.name() == name) {
            Some(m) => Ok(m),
            // Not a model at all: clap's error, listing those that apply.
            None => {
                let names: Vec<&str> = self.shown.iter().map(|m| m.name()).collect();
                clap::builder::PossibleValuesParser::new(names)
                    .parse_ref(cmd, arg, value)
                    .map(|_| unreachable!("not a model name"))
            }
        }
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(Model::ALL.into_iter().map(|m| {
            PossibleValue::new(m.name())
                .help(m.facts().serves)
                .hide(!self.shown.contains(&m))
        })))
    }
}
