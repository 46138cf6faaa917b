#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("remote-write configuration: {0}")]
    Config(String),
    #[error(transparent)]
    InvalidSeries(#[from] crate::series::InvalidSeries),
}
