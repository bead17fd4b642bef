//! The three roles, created on the server and tried for real: each user runs every
//! operation, and the matrix of what the server allowed is compared with what the role
//! should allow. Roles are built from MongoDB's built-in roles on the chapter's database
//! (custom roles on the default server cannot be scoped to a collection).

use mongodb::bson::{doc, Bson};

use super::deploy::{roles, Role};
use crate::backends::docstore::DocStore;
use crate::error::Reason;

/// The operations tried, in the matrix's order.
pub const OPERATIONS: [&str; 5] = [
    "read listings",
    "insert a document",
    "update a document",
    "create a user",
    "read another database",
];

/// What each role should be allowed, by [`OPERATIONS`] index.
pub fn expected(role: &str) -> [bool; 5] {
    match role {
        "Admin" => [true, true, true, true, false],
        "Operator" => [true, true, true, false, false],
        _ => [true, false, false, false, false],
    }
}

/// One cell of the matrix.
#[derive(Debug, Clone)]
pub struct Cell {
    /// The user the operation ran as.
    pub role: String,
    /// The operation tried.
    pub operation: &'static str,
    /// Whether its role should allow it.
    pub expected: bool,
    /// Whether the server allowed it.
    pub allowed: bool,
    /// The server's answer when it refused.
    pub refusal: Option<String>,
    /// The refusal was MongoDB's authorization error (code 13, Unauthorized), not another
    /// failure that would only look like one.
    pub unauthorized: bool,
}

/// A password for a role's user: not a secret worth keeping (the users exist for the run).
fn password(role: &str) -> String {
    format!("auditbook-{}-probe", role.to_lowercase())
}

/// Creates the three users on `db` (replacing earlier ones), then tries every operation as
/// each of them. `admin` must be allowed to manage users on `db`. "Read listings" reads the
/// listing `read_id` (any value: the server checks the privilege before it looks).
pub fn probe(admin: &DocStore, db: &str, read_id: &Bson) -> crate::Result<Vec<Cell>> {
    let declared = roles()?;
    for Role { user, roles, .. } in &declared {
        let user = user.as_str();
        let _ = admin.command(db, doc! {"dropUser": user});
        let roles: Vec<Bson> = roles
            .iter()
            .map(|r| Bson::Document(doc! {"role": r.as_str(), "db": db}))
            .collect();
        admin
            .command(
                db,
                doc! {"createUser": user, "pwd": password(user), "roles": roles},
            )
            .map_err(crate::Error::failed(
                super::CHAPTER,
                format!("creating role user {user}"),
            ))?;
    }
    let mut cells = Vec::new();
    for Role { user, .. } in &declared {
        let user = user.as_str();
        let client = admin
            .connect_as(user, &password(user), db)
            .map_err(|e| crate::Error::no_document_store(super::CHAPTER, e))?;
        let probe = client.collection(db, "role_probe");
        // Each operation's refusal, as the server worded it: the cell of the table.
        let outcomes: [Result<(), Reason>; 5] = [
            client
                .block_on(
                    client
                        .collection(db, "listings")
                        .find_one(doc! {"_id": read_id}),
                )
                .map(|_| ())
                .map_err(|e| e.to_string()),
            client
                .block_on(probe.insert_one(doc! {"by": user}))
                .map(|_| ())
                .map_err(|e| e.to_string()),
            client
                .block_on(probe.update_one(doc! {"by": user}, doc! {"$set": {"seen": true}}))
                .map(|_| ())
                .map_err(|e| e.to_string()),
            client
                .command(
                    db,
                    doc! {"createUser": format!("{user}_created"), "pwd": "x-probe", "roles": []},
                )
                .map(|_| {
                    let _ = client.command(db, doc! {"dropUser": format!("{user}_created")});
                })
                .map_err(|e| e.server_message()),
            client
                .block_on(
                    client
                        .collection("auditbook_elsewhere", "any")
                        .find_one(doc! {}),
                )
                .map(|_| ())
                .map_err(|e| e.to_string()),
        ];
        for ((operation, outcome), expected) in OPERATIONS.iter().zip(outcomes).zip(expected(user))
        {
            let refusal: Option<String> = outcome.err().map(|e| {
                // Keep the server's reason, not the driver's wrapping.
                let short = e.split(", full error").next().unwrap_or(&e).to_string();
                short.chars().take(120).collect()
            });
            let unauthorized = refusal.as_deref().is_some_and(|r| {
                r.contains("code 13") || r.contains("Unauthorized") || r.contains("not authorized")
            });
            cells.push(Cell {
                role: user.to_string(),
                operation,
                expected,
                allowed: refusal.is_none(),
                refusal,
                unauthorized,
            });
        }
    }
    let _ = admin.block_on(admin.collection(db, "role_probe").drop());
    Ok(cells)
}
