//! cosign binds every flag to an environment variable, `COSIGN_` and the flag's long name in
//! upper case with dashes as underscores (`--key` is `COSIGN_KEY`, `--allow-insecure-registry`
//! is `COSIGN_ALLOW_INSECURE_REGISTRY`); a flag given on the command line wins. Scripts written
//! for cosign set them, so every flag of every subcommand gets the same binding here, unless it
//! already reads a variable of its own (`SIGMIRROR_…`).
//!
//! cosign's boolean flags (Go's `pflag`) also take a value, `--flag=true` or `--flag=false`, and
//! scripts write both; every on/off flag here takes them too (see [`boolean_with_value`]).

use clap::builder::BoolishValueParser;
use clap::{Arg, ArgAction, ArgMatches, Command};

/// The variable cosign reads for the flag `--long`.
pub fn variable_for(long: &str) -> String {
    format!("COSIGN_{}", long.to_ascii_uppercase().replace('-', "_"))
}

/// Parses the process's arguments with `command`, every flag on the invoked command's path
/// bound to its `COSIGN_` variable; exits with clap's message on an error, `--help` or
/// `--version`.
///
/// The subcommands of `command` are deferred (built only when invoked), so their flags do not
/// exist until a parse has walked into them: a first parse, whose errors are ignored, builds the
/// invoked path in place; the flags found there are bound, and the second parse is the one whose
/// result counts. A flag that only its variable supplies fails the first parse, never the second.
pub fn parse(mut command: Command) -> ArgMatches {
    let args: Vec<String> = std::env::args().collect();
    let _ = command.try_get_matches_from_mut(&args);
    bind(command, &args[1..]).get_matches_from(&args)
}

/// `command` with the flags of the subcommand `args` invoke (and of every command on the way to
/// it) bound to their `COSIGN_` variables. Only that path is bound: binding all of the tree's
/// flags on every start would cost more than the rest of a quick command.
pub fn bind(command: Command, args: &[String]) -> Command {
    let command = command.mut_args(|arg| match arg.get_long() {
        Some(long)
            if arg.get_env().is_none()
                && !arg.is_positional()
                && !matches!(long, "help" | "version") =>
        {
            let variable = variable_for(long);
            boolean_with_value(arg).env(variable)
        }
        _ => arg,
    });
    // The next word that names a subcommand of this one (flags before it are skipped).
    let Some((at, name)) = args.iter().enumerate().find_map(|(i, word)| {
        command
            .get_subcommands()
            .find(|s| s.get_name() == word)
            .map(|s| (i, s.get_name().to_owned()))
    }) else {
        return command;
    };
    let rest = args[at + 1..].to_vec();
    command.mut_subcommand(name, |sub| bind(sub, &rest))
}

/// An on/off flag (`--json`) made to also take `=true` or `=false` (and Go's other spellings:
/// `=1`, `=0`, `=t`, `=f`), as cosign's flags do; its variable takes the same values. Only the
/// `=` form carries a value, so `--offline IMAGE` still reads IMAGE as the image.
fn boolean_with_value(arg: Arg) -> Arg {
    if !matches!(arg.get_action(), ArgAction::SetTrue) {
        return arg;
    }
    arg.action(ArgAction::Set)
        .num_args(0..=1)
        .require_equals(true)
        .default_missing_value("true")
        .default_value("false")
        .hide_default_value(true)
        .value_name("BOOL")
        .value_parser(BoolishValueParser::new())
}

/// `command` with every flag of every subcommand bound (for completion scripts and man pages,
/// which show them all).
pub fn bind_all(mut command: Command) -> Command {
    // Deferred subcommands get their flags here, top-down as a parse would build them.
    command.build();
    let command = bind(command, &[]);
    let names: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    names.into_iter().fold(command, |command, name| {
        command.mut_subcommand(name, bind_all)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_map_to_cosigns_variable_names() {
        assert_eq!(variable_for("key"), "COSIGN_KEY");
        assert_eq!(
            variable_for("allow-insecure-registry"),
            "COSIGN_ALLOW_INSECURE_REGISTRY"
        );
        assert_eq!(variable_for("output-signature"), "COSIGN_OUTPUT_SIGNATURE");
    }
}
