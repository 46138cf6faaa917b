//! What both test binaries need: `redline tokens` arguments parsed as the CLI parses them.

use clap::Parser;
use redline_tokens::TokensArgs;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: TokensArgs,
}

/// `argv` (without the program name) parsed by clap, as `redline tokens ARGV` would be.
pub fn args(argv: &[&str]) -> TokensArgs {
    Cli::try_parse_from(std::iter::once("tokens").chain(argv.iter().copied()))
        .unwrap()
        .args
}
