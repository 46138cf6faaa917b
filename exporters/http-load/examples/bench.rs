//! `redline http-load` as a standalone binary, for `hack/bench-http.sh` while (or where) the
//! `redline` binary is not built: the same flags, the same `run`.

use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: redline_http_load::HttpLoadArgs,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    redline_runtime::init_tracing(cli.args.common.log_format, &cli.args.common.log_level)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(redline_http_load::run(cli.args))?;
    Ok(())
}
