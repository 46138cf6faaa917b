#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(
        "admin server: cannot listen on {addr}: {source} (another run on this machine? choose another --admin-addr, or 127.0.0.1:0 for any free port)"
    )]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("{flag}: {message}")]
    Flag { flag: &'static str, message: String },
    #[error(transparent)]
    RemoteWrite(#[from] redline_remote_write::Error),
    #[error("collecting metrics: {0}")]
    Collect(String),
    #[error("tracing: {0}")]
    Tracing(String),
    #[error("a remote-writer handle is still held at finish(); drop it first")]
    WriterStillShared,
}
