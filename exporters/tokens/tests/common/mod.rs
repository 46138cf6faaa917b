//! What the test binaries need: `redline tokens` arguments parsed as the CLI parses them,
//! and the `tier,token` rows of a written tokens file.

#![allow(dead_code)] // each test binary uses its own part

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

/// The `(tier, token)` rows of a tokens CSV, comments and blank lines left out.
pub fn data_lines(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (t, k) = l.split_once(',').expect("tier,token");
            (t.to_string(), k.to_string())
        })
        .collect()
}
