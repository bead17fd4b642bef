//! How a ticket travels in a Kafka record's value. JSON is the default: what a user's other
//! consumers (kcat, a Connect sink, Spark) read without help. The compact form is an option
//! for throughput: the three numbers as little-endian integers and the five texts each
//! behind its length, about half JSON's bytes and no text to parse. It starts with a tag
//! byte JSON never starts with, so the processor reads either, record by record, and a topic
//! that mixes both still reads whole.
//!
//! The batched form departs from Kafka's usual one event per record, as an option a user
//! chooses: a record holds the compact tickets one partition is sent between two heartbeats
//! (at most [`MAX_BATCH`]), so that librdkafka's cost per record (the producer's queue, the
//! broker's log, the consumer's poll) is paid once per batch. The producer then chooses each
//! ticket's partition itself, by librdkafka's own partitioner ([`partition_of`]), so every
//! ticket lands where it would one per record, and the windows and late counts are those of
//! a run one ticket per record, byte for byte. What differs is the offset a ticket is read at
//! (its batch's): the raw archive's `offset` column says so.

use std::borrow::Cow;

use bytes::Bytes;

use super::generate::Ticket;
use super::text::Text;

/// The first byte of a compact record (JSON starts with `{` or whitespace).
const COMPACT_TAG: u8 = 0x01;
/// The first byte of a batched record.
const BATCH_TAG: u8 = 0x02;
/// Tickets in one batched record, at most (a partition's share of a block is about a third
/// of its 1,000 tickets on the book's three partitions): about 25 kB of compact tickets,
/// well under a broker's usual 1 MB record limit.
pub const MAX_BATCH: usize = 500;

/// The form tickets are produced in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Payload {
    /// One JSON object per record.
    #[default]
    Json,
    /// The tagged binary form of this module.
    Compact,
    /// Compact tickets, a partition's run of them between two heartbeats in one record.
    Batched,
}

impl Payload {
    /// Its name, as the options spell it.
    pub fn name(self) -> &'static str {
        match self {
            Payload::Json => "json",
            Payload::Compact => "compact",
            Payload::Batched => "batched",
        }
    }
}

/// Writes `ticket` into `out` (cleared first) in the form `payload`; a batched ticket is
/// written alone, as a batch of one.
pub fn encode(ticket: &Ticket, payload: Payload, out: &mut Vec<u8>) {
    out.clear();
    match payload {
        Payload::Json => serde_json::to_writer(out, ticket).expect("tickets serialise"),
        Payload::Compact => {
            out.push(COMPACT_TAG);
            write_compact(ticket, out);
        }
        Payload::Batched => encode_batch(&[ticket], out),
    }
}

/// Writes `tickets` into `out` (cleared first) as one batched record.
pub fn encode_batch(tickets: &[&Ticket], out: &mut Vec<u8>) {
    out.clear();
    out.push(BATCH_TAG);
    let count = u32::try_from(tickets.len()).expect("a batch holds under 4 billion tickets");
    out.extend_from_slice(&count.to_le_bytes());
    for ticket in tickets {
        write_compact(ticket, out);
    }
}

/// A ticket's compact fields, without the tag.
fn write_compact(ticket: &Ticket, out: &mut Vec<u8>) {
    out.extend_from_slice(&ticket.seq.to_le_bytes());
    out.extend_from_slice(&ticket.created_at_ms.to_le_bytes());
    out.extend_from_slice(&ticket.arrival_ms.to_le_bytes());
    for text in [
        &ticket.ticket_id,
        &ticket.client_id,
        &ticket.request,
        &ticket.request_type,
        &ticket.priority,
    ] {
        let len = u32::try_from(text.len()).expect("a ticket's text is under 4 GiB");
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(text.as_bytes());
    }
}

/// The partition librdkafka's default partitioner (`consistent_random`) gives a record keyed
/// `key` on a topic of `partitions`: the CRC-32 of the key, modulo the partition count.
pub fn partition_of(key: &str, partitions: i32) -> i32 {
    let partitions = u32::try_from(partitions.max(1)).expect("positive");
    (crc32fast::hash(key.as_bytes()) % partitions) as i32
}

/// What one record's value holds.
#[derive(Debug, PartialEq)]
pub enum Decoded {
    /// One ticket (JSON or compact).
    One(Ticket),
    /// A batch of tickets, in the order they were produced.
    Batch(Vec<Ticket>),
}

/// Reads a record's value in any form; the error says what is wrong with the bytes.
pub fn decode_record(bytes: &[u8]) -> Result<Decoded, String> {
    match bytes.split_first() {
        Some((&BATCH_TAG, rest)) => decode_batch(rest).map(Decoded::Batch),
        _ => decode(bytes).map(Decoded::One),
    }
}

fn decode_batch(bytes: &[u8]) -> Result<Vec<Ticket>, String> {
    let mut r = Reader::new(bytes);
    let count = u32::from_le_bytes(r.array("the batch's ticket count")?) as usize;
    // Never trust a count to size memory: every ticket takes 44 bytes at least.
    let mut tickets = Vec::with_capacity(count.min(bytes.len() / 44));
    for _ in 0..count {
        tickets.push(r.ticket()?);
    }
    match r.left() {
        0 => Ok(tickets),
        extra => Err(format!(
            "a batch of {count} tickets with {extra} bytes after its last"
        )),
    }
}

/// Reads a ticket in either form; the error says what is wrong with the bytes.
pub fn decode(bytes: &[u8]) -> Result<Ticket, String> {
    match bytes.split_first() {
        Some((&COMPACT_TAG, rest)) => decode_compact(rest),
        _ => decode_json(bytes),
    }
}

/// A JSON ticket as read: its texts borrowed from the record where they hold no escape.
#[derive(serde::Deserialize)]
struct JsonTicket<'a> {
    seq: u64,
    #[serde(borrow)]
    ticket_id: Cow<'a, str>,
    #[serde(borrow)]
    client_id: Cow<'a, str>,
    created_at_ms: i64,
    arrival_ms: i64,
    #[serde(borrow)]
    request: Cow<'a, str>,
    #[serde(borrow)]
    request_type: Cow<'a, str>,
    #[serde(borrow)]
    priority: Cow<'a, str>,
}

/// Reads a JSON ticket (the fields [`Ticket`] serialises), copying the record once into a
/// shared buffer that its unescaped texts slice, as a compact record's do.
fn decode_json(bytes: &[u8]) -> Result<Ticket, String> {
    let shared = Bytes::copy_from_slice(bytes);
    let t: JsonTicket<'_> =
        serde_json::from_slice(&shared).map_err(|e| format!("not a ticket: {e}"))?;
    let text = |s: Cow<'_, str>| match s {
        // A text borrowed from `shared` is a part of it: sliced, not copied.
        Cow::Borrowed(s) => {
            Text::from_utf8(shared.slice_ref(s.as_bytes())).expect("a part of a str is UTF-8")
        }
        Cow::Owned(s) => Text::from(s),
    };
    Ok(Ticket {
        seq: t.seq,
        ticket_id: text(t.ticket_id),
        client_id: text(t.client_id),
        created_at_ms: t.created_at_ms,
        arrival_ms: t.arrival_ms,
        request: text(t.request),
        request_type: text(t.request_type),
        priority: text(t.priority),
    })
}

/// Reads a ticket in either single form; the error says what is wrong with the bytes.
fn decode_compact(bytes: &[u8]) -> Result<Ticket, String> {
    let mut r = Reader::new(bytes);
    let ticket = r.ticket()?;
    match r.left() {
        0 => Ok(ticket),
        extra => Err(format!(
            "a compact ticket with {extra} bytes after its last field"
        )),
    }
}

/// A compact record being read: its bytes, copied once into a shared buffer that every
/// text read from it slices (one allocation per record, not five per ticket).
struct Reader {
    bytes: Bytes,
    /// Where the next field starts.
    at: usize,
}

impl Reader {
    fn new(bytes: &[u8]) -> Reader {
        Reader {
            bytes: Bytes::copy_from_slice(bytes),
            at: 0,
        }
    }

    /// Bytes not read yet.
    fn left(&self) -> usize {
        self.bytes.len() - self.at
    }

    /// The next `n` bytes' range.
    fn take(&mut self, n: usize, field: &str) -> Result<std::ops::Range<usize>, String> {
        if self.left() < n {
            return Err(format!(
                "a compact ticket cut short: {field} needs {n} bytes, {} left",
                self.left()
            ));
        }
        let range = self.at..self.at + n;
        self.at += n;
        Ok(range)
    }

    fn array<const N: usize>(&mut self, field: &str) -> Result<[u8; N], String> {
        let range = self.take(N, field)?;
        Ok(self.bytes[range].try_into().expect("N bytes"))
    }

    fn ticket(&mut self) -> Result<Ticket, String> {
        Ok(Ticket {
            seq: u64::from_le_bytes(self.array("seq")?),
            created_at_ms: i64::from_le_bytes(self.array("created_at_ms")?),
            arrival_ms: i64::from_le_bytes(self.array("arrival_ms")?),
            ticket_id: self.text("ticket_id")?,
            client_id: self.text("client_id")?,
            request: self.text("request")?,
            request_type: self.text("request_type")?,
            priority: self.text("priority")?,
        })
    }

    fn text(&mut self, field: &str) -> Result<Text, String> {
        let len = u32::from_le_bytes(self.array(field)?) as usize;
        let range = self.take(len, field)?;
        Text::from_utf8(self.bytes.slice(range))
            .map_err(|e| format!("a compact ticket's {field} is not UTF-8: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ticket(seq: u64, created: i64, texts: [String; 5]) -> Ticket {
        let [ticket_id, client_id, request, request_type, priority] = texts.map(Text::from);
        Ticket {
            seq,
            ticket_id,
            client_id,
            created_at_ms: created,
            arrival_ms: created.wrapping_add(17),
            request,
            request_type,
            priority,
        }
    }

    proptest! {
        #[test]
        fn both_forms_read_back_the_ticket_they_wrote(
            seq in any::<u64>(),
            created in any::<i64>(),
            texts in proptest::array::uniform5(".{0,40}"),
        ) {
            let t = ticket(seq, created, texts);
            let mut bytes = Vec::new();
            for payload in [Payload::Json, Payload::Compact] {
                encode(&t, payload, &mut bytes);
                prop_assert_eq!(decode(&bytes).unwrap(), t.clone());
                prop_assert_eq!(decode_record(&bytes).unwrap(), Decoded::One(t.clone()));
            }
            encode(&t, Payload::Batched, &mut bytes);
            prop_assert_eq!(decode_record(&bytes).unwrap(), Decoded::Batch(vec![t]));
        }

        #[test]
        fn a_batch_reads_back_its_tickets_in_order(
            texts in proptest::collection::vec(proptest::array::uniform5(".{0,12}"), 0..20),
        ) {
            let tickets: Vec<Ticket> = texts
                .into_iter()
                .enumerate()
                .map(|(i, texts)| ticket(i as u64, 1_000 + i as i64, texts))
                .collect();
            let mut bytes = Vec::new();
            encode_batch(&tickets.iter().collect::<Vec<_>>(), &mut bytes);
            prop_assert_eq!(decode_record(&bytes).unwrap(), Decoded::Batch(tickets.clone()));
            // Cut anywhere, or padded, it is refused, never read as fewer tickets.
            if !tickets.is_empty() {
                let cut = bytes.len() / 2;
                prop_assert!(decode_record(&bytes[..cut]).unwrap_err().contains("cut short"));
            }
            bytes.push(0);
            prop_assert!(decode_record(&bytes).unwrap_err().contains("after its last"));
        }

        #[test]
        fn a_cut_or_padded_compact_record_is_refused(cut in 1usize..40, texts in proptest::array::uniform5("[a-z]{1,8}")) {
            let t = ticket(3, 1_000, texts);
            let mut bytes = Vec::new();
            encode(&t, Payload::Compact, &mut bytes);
            let cut = cut.min(bytes.len() - 1);
            prop_assert!(decode(&bytes[..bytes.len() - cut]).unwrap_err().contains("cut short"));
            bytes.push(0);
            prop_assert!(decode(&bytes).unwrap_err().contains("after its last field"));
        }
    }

    #[test]
    fn the_compact_form_is_smaller_than_json() {
        let t = ticket(
            123_456,
            1_793_577_600_000,
            [
                "T0123456",
                "C0042",
                "La ligne 3 est arrêtée depuis ce matin",
                "Technique",
                "Haute",
            ]
            .map(String::from),
        );
        let (mut json, mut compact) = (Vec::new(), Vec::new());
        encode(&t, Payload::Json, &mut json);
        encode(&t, Payload::Compact, &mut compact);
        assert!(
            compact.len() * 3 < json.len() * 2,
            "{} against {}",
            compact.len(),
            json.len()
        );
    }
}
