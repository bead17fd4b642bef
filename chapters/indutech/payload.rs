//! How a ticket travels in a Kafka record's value. JSON is the default: what a user's other
//! consumers (kcat, a Connect sink, Spark) read without help. The compact form is an option
//! for throughput: the three numbers as little-endian integers and the five texts each
//! behind its length, about half JSON's bytes and no text to parse. It starts with a tag
//! byte JSON never starts with, so the processor reads either, record by record, and a topic
//! that mixes both still reads whole.

use super::generate::Ticket;

/// The first byte of a compact record (JSON starts with `{` or whitespace).
const COMPACT_TAG: u8 = 0x01;

/// The form tickets are produced in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Payload {
    /// One JSON object per record.
    #[default]
    Json,
    /// The tagged binary form of this module.
    Compact,
}

impl Payload {
    /// Its name, as the options spell it.
    pub fn name(self) -> &'static str {
        match self {
            Payload::Json => "json",
            Payload::Compact => "compact",
        }
    }
}

/// Writes `ticket` into `out` (cleared first) in the form `payload`.
pub fn encode(ticket: &Ticket, payload: Payload, out: &mut Vec<u8>) {
    out.clear();
    match payload {
        Payload::Json => serde_json::to_writer(out, ticket).expect("tickets serialise"),
        Payload::Compact => {
            out.push(COMPACT_TAG);
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
    }
}

/// Reads a ticket in either form; the error says what is wrong with the bytes.
pub fn decode(bytes: &[u8]) -> Result<Ticket, String> {
    match bytes.split_first() {
        Some((&COMPACT_TAG, rest)) => decode_compact(rest),
        _ => serde_json::from_slice(bytes).map_err(|e| format!("not a ticket: {e}")),
    }
}

fn decode_compact(bytes: &[u8]) -> Result<Ticket, String> {
    let mut r = Reader { rest: bytes };
    let seq = u64::from_le_bytes(r.array("seq")?);
    let created_at_ms = i64::from_le_bytes(r.array("created_at_ms")?);
    let arrival_ms = i64::from_le_bytes(r.array("arrival_ms")?);
    let ticket = Ticket {
        seq,
        created_at_ms,
        arrival_ms,
        ticket_id: r.text("ticket_id")?,
        client_id: r.text("client_id")?,
        request: r.text("request")?,
        request_type: r.text("request_type")?,
        priority: r.text("priority")?,
    };
    match r.rest.len() {
        0 => Ok(ticket),
        extra => Err(format!(
            "a compact ticket with {extra} bytes after its last field"
        )),
    }
}

/// The bytes of a compact record not read yet.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8], String> {
        if self.rest.len() < n {
            return Err(format!(
                "a compact ticket cut short: {field} needs {n} bytes, {} left",
                self.rest.len()
            ));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, field: &str) -> Result<[u8; N], String> {
        Ok(self.take(N, field)?.try_into().expect("N bytes"))
    }

    fn text(&mut self, field: &str) -> Result<String, String> {
        let len = u32::from_le_bytes(self.array(field)?) as usize;
        String::from_utf8(self.take(len, field)?.to_vec())
            .map_err(|e| format!("a compact ticket's {field} is not UTF-8: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ticket(seq: u64, created: i64, texts: [String; 5]) -> Ticket {
        let [ticket_id, client_id, request, request_type, priority] = texts;
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
            }
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
