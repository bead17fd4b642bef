//! A Kafka-protocol broker through `rdkafka`: librdkafka's in-process mock cluster (three
//! brokers, the topic replicated three times) so the book needs no server, or the brokers of
//! `--brokers`, where the topic is created through the admin API. Used by InduTech, whose
//! producer and processor (`chapters/indutech/stream.rs`) talk to the [`Endpoint`] it gives.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::mocking::{MockCluster, MockCoordinator};
use rdkafka::producer::DefaultProducerContext;
use rdkafka::topic_partition_list::TopicPartitionList;
use rdkafka::types::RDKafkaErrorCode;

use crate::error::Unreachable;

/// Why no broker (or no topic) could be had.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The brokers did not answer: the tool could not run.
    #[error("{0}")]
    Unreachable(#[from] Unreachable),
    /// The broker (or the client library) refused a call.
    #[error("{operation}, on the broker at {bootstrap}")]
    Kafka {
        /// The call refused.
        operation: String,
        /// The bootstrap servers.
        bootstrap: String,
        /// What librdkafka said.
        #[source]
        source: Box<KafkaError>,
    },
    /// A topic exists with another partition count than the one asked for.
    #[error("topic {topic} on the broker at {bootstrap} has {has} partitions, not {wanted}")]
    Partitions {
        /// The topic.
        topic: String,
        /// The bootstrap servers.
        bootstrap: String,
        /// Its partitions.
        has: i32,
        /// The partitions asked for.
        wanted: i32,
    },
}

/// A Kafka error on `operation`, at `bootstrap` (also the producer's and the processor's).
pub fn failed(
    operation: impl Into<String>,
    bootstrap: &str,
) -> impl FnOnce(KafkaError) -> BrokerError {
    let operation = operation.into();
    let bootstrap = bootstrap.to_string();
    move |source| BrokerError::Kafka {
        operation,
        bootstrap,
        source: Box::new(source),
    }
}

/// The broker at `bootstrap` did not answer `operation` (also the producer's and the
/// processor's): the tool could not run.
pub fn out_of_reach(operation: &str, bootstrap: &str) -> impl FnOnce(KafkaError) -> BrokerError {
    let address = bootstrap.to_string();
    let operation = operation.to_string();
    move |source| {
        BrokerError::Unreachable(Unreachable::new(
            "Kafka broker",
            address,
            format!("{operation}: {source}"),
        ))
    }
}

/// Whether librdkafka's answer means no broker answered (timed out, transport down), rather
/// than a broker refusing the call.
fn out_of_reach_code(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::OperationTimedOut
            | RDKafkaErrorCode::RequestTimedOut
            | RDKafkaErrorCode::BrokerTransportFailure
            | RDKafkaErrorCode::AllBrokersDown
            | RDKafkaErrorCode::BrokerNotAvailable
            | RDKafkaErrorCode::NetworkException
    )
}

/// Whether a consumer's error is one librdkafka recovers from by itself: a connection lost
/// to one broker, a leader that moved. The consumer reconnects and refetches the leaders, so
/// a reader goes on and lets its idle timeout decide whether the brokers are really gone.
pub fn recovers_by_itself(error: &KafkaError) -> bool {
    match error {
        KafkaError::MessageConsumption(code) | KafkaError::Global(code) => out_of_reach_code(*code),
        _ => false,
    }
}

/// Where records go: bootstrap servers, topic, partitions. Plain data, shared by the
/// producer and processor threads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The bootstrap servers, `host:port,…`.
    pub bootstrap: String,
    /// The topic.
    pub topic: String,
    /// Its partitions.
    pub partitions: i32,
}

/// A broker to talk to: the in-process mock cluster (kept alive here), or a real one.
pub struct Broker {
    /// Where the producer and the processor connect.
    pub endpoint: Endpoint,
    _mock: Option<MockCluster<'static, DefaultProducerContext>>,
    /// Every topic made on the mock cluster, with its partitions (for [`Broker::fail_over`]).
    topics: std::sync::Mutex<Vec<(String, i32)>>,
}

impl Broker {
    /// Another topic on the same broker (the mock cluster's, or the real one): for what
    /// the processors of a group tell each other.
    pub fn add_topic(&self, topic: &str, partitions: i32) -> Result<Endpoint, BrokerError> {
        let bootstrap = &self.endpoint.bootstrap;
        match &self._mock {
            Some(mock) => {
                mock.create_topic(topic, partitions, 3)
                    .map_err(failed(format!("creating topic {topic}"), bootstrap))?;
                self.topics
                    .lock()
                    .expect("not poisoned")
                    .push((topic.to_string(), partitions));
            }
            None => create_topic(bootstrap, topic, partitions)?,
        }
        Ok(Endpoint {
            bootstrap: bootstrap.clone(),
            topic: topic.to_string(),
            partitions,
        })
    }

    /// Starts the mock cluster (3 brokers, the topic replicated 3 times), or creates the topic
    /// on `brokers` through the admin API.
    pub fn start(
        brokers: Option<&str>,
        topic: &str,
        partitions: i32,
    ) -> Result<Broker, BrokerError> {
        match brokers {
            None => {
                let mock = MockCluster::new(3)
                    .map_err(failed("starting the in-process broker", "(in process)"))?;
                mock.create_topic(topic, partitions, 3).map_err(failed(
                    format!("creating topic {topic}"),
                    &mock.bootstrap_servers(),
                ))?;
                let endpoint = Endpoint {
                    bootstrap: mock.bootstrap_servers(),
                    topic: topic.to_string(),
                    partitions,
                };
                Ok(Broker {
                    endpoint,
                    _mock: Some(mock),
                    topics: std::sync::Mutex::new(vec![(topic.to_string(), partitions)]),
                })
            }
            Some(bootstrap) => {
                create_topic(bootstrap, topic, partitions)?;
                let endpoint = Endpoint {
                    bootstrap: bootstrap.to_string(),
                    topic: topic.to_string(),
                    partitions,
                };
                Ok(Broker {
                    endpoint,
                    _mock: None,
                    topics: std::sync::Mutex::default(),
                })
            }
        }
    }

    /// The in-process cluster, for the failure drill; an error for a real cluster, which is
    /// not broken from here.
    fn mock(
        &self,
        operation: &str,
    ) -> Result<&MockCluster<'static, DefaultProducerContext>, BrokerError> {
        self._mock.as_ref().ok_or_else(|| {
            failed(operation, &self.endpoint.bootstrap)(KafkaError::AdminOpCreation(
                "only the in-process cluster can be broken on purpose".into(),
            ))
        })
    }

    /// For the failure drill: makes broker `broker` (1 to 3) of the in-process cluster the
    /// coordinator of `group`.
    pub fn pin_coordinator(&self, group: &str, broker: i32) -> Result<(), BrokerError> {
        let what = format!("making broker {broker} the coordinator of {group}");
        self.mock(&what)?
            .coordinator(MockCoordinator::Group(group.to_string()), broker)
            .map_err(failed(&what, &self.endpoint.bootstrap))
    }

    /// For the failure drill: takes broker `down` (1 to 3) of the in-process cluster down,
    /// after doing what a real cluster's controller does, which the mock leaves to its user:
    /// the partitions of every topic made here are given leaders among the other two, which
    /// hold their replicas. A group coordinator is not moved: librdkafka's clients do not look
    /// for a new one on the mock's word (measured: commits left unanswered for 20 s), so the
    /// drill pins the coordinator on a broker that stays ([`Broker::pin_coordinator`]).
    pub fn take_down(&self, down: i32) -> Result<(), BrokerError> {
        let what = format!("taking broker {down} down");
        let mock = self.mock(&what)?;
        let bootstrap = &self.endpoint.bootstrap;
        let alive: Vec<i32> = (1..=3).filter(|b| *b != down).collect();
        for (topic, partitions) in self.topics.lock().expect("not poisoned").iter() {
            for p in 0..*partitions {
                let leader = alive[p as usize % alive.len()];
                mock.partition_leader(topic, p, Some(leader))
                    .map_err(failed(&what, bootstrap))?;
            }
        }
        mock.broker_down(down).map_err(failed(&what, bootstrap))
    }
}

/// The topic `topic` on the brokers at `bootstrap`, created with `partitions` when absent:
/// for separate processes (a producer, the members of a group), whichever starts first. One
/// that exists with another partition count is refused: a stream's partitions are its
/// members' shares.
pub fn ensure_topic(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
) -> Result<Endpoint, BrokerError> {
    match create_topic(bootstrap, topic, partitions) {
        Ok(()) => {}
        Err(BrokerError::Kafka { source, .. })
            if matches!(
                *source,
                KafkaError::AdminOp(RDKafkaErrorCode::TopicAlreadyExists)
            ) =>
        {
            let has = partitions_of(bootstrap, topic)?;
            if has != partitions {
                return Err(BrokerError::Partitions {
                    topic: topic.to_string(),
                    bootstrap: bootstrap.to_string(),
                    has,
                    wanted: partitions,
                });
            }
        }
        Err(other) => return Err(other),
    }
    Ok(Endpoint {
        bootstrap: bootstrap.to_string(),
        topic: topic.to_string(),
        partitions,
    })
}

/// How many partitions `topic` has on the brokers at `bootstrap`, from their metadata.
fn partitions_of(bootstrap: &str, topic: &str) -> Result<i32, BrokerError> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let operation = format!("reading the metadata of topic {topic}");
    let client: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .map_err(failed("creating the metadata client", bootstrap))?;
    let metadata = client
        .fetch_metadata(Some(topic), Duration::from_secs(15))
        .map_err(out_of_reach(&operation, bootstrap))?;
    let count = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .map_or(0, |t| t.partitions().len());
    Ok(i32::try_from(count).expect("a topic has under 2^31 partitions"))
}

/// Creates `topic` on the brokers at `bootstrap` through the admin API.
fn create_topic(bootstrap: &str, topic: &str, partitions: i32) -> Result<(), BrokerError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("socket.timeout.ms", "10000")
        .create()
        .map_err(failed("creating the admin client", bootstrap))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            BrokerError::Unreachable(Unreachable::new(
                "Kafka broker",
                bootstrap,
                format!("the admin client's runtime: {e}"),
            ))
        })?;
    let options = AdminOptions::new()
        .operation_timeout(Some(Duration::from_secs(10)))
        .request_timeout(Some(Duration::from_secs(15)));
    // Tickets carry their own (past) timestamps: keep them whatever their age.
    let new_topic =
        NewTopic::new(topic, partitions, TopicReplication::Fixed(1)).set("retention.ms", "-1");
    let results = runtime
        .block_on(admin.create_topics(&[new_topic], &options))
        .map_err(out_of_reach(&format!("creating topic {topic}"), bootstrap))?;
    for r in results {
        r.map_err(|(t, code)| {
            let source = KafkaError::AdminOp(code);
            if out_of_reach_code(code) {
                out_of_reach(&format!("creating topic {t}"), bootstrap)(source)
            } else {
                BrokerError::Kafka {
                    operation: format!("creating topic {t}"),
                    bootstrap: bootstrap.to_string(),
                    source: Box::new(source),
                }
            }
        })?;
    }
    Ok(())
}

/// Commits `offsets` for `consumer`'s group and waits at most `patience` for the answer.
/// librdkafka's synchronous commit (`rd_kafka_commit`) waits without bound while the group's
/// coordinator is gone; its queue form hands the answer to a queue of our own, read here
/// with a timeout. A commit unanswered in time is `OperationTimedOut` (it may still land
/// later: a commit only ever trails the checkpoint it follows, so a late one is harmless).
pub fn commit_within<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    offsets: &TopicPartitionList,
    patience: Duration,
) -> Result<(), KafkaError> {
    use rdkafka::bindings as rd;
    let commit_error =
        |code: rd::rd_kafka_resp_err_t| KafkaError::ConsumerCommit(RDKafkaErrorCode::from(code));
    let rk = consumer.client().native_ptr();
    let millis = patience.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: `rk` and `offsets` outlive these calls (librdkafka copies the list); the queue
    // is ours, destroyed once (librdkafka keeps its own reference while the request is out);
    // the event is destroyed once, after its error code is read.
    unsafe {
        let queue = rd::rd_kafka_queue_new(rk);
        let sent = rd::rd_kafka_commit_queue(rk, offsets.ptr(), queue, None, std::ptr::null_mut());
        if sent != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            rd::rd_kafka_queue_destroy(queue);
            return Err(commit_error(sent));
        }
        let event = rd::rd_kafka_queue_poll(queue, millis);
        let answer = if event.is_null() {
            Err(KafkaError::ConsumerCommit(
                RDKafkaErrorCode::OperationTimedOut,
            ))
        } else {
            let code = rd::rd_kafka_event_error(event);
            rd::rd_kafka_event_destroy(event);
            if code == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                Ok(())
            } else {
                Err(commit_error(code))
            }
        };
        rd::rd_kafka_queue_destroy(queue);
        answer
    }
}
