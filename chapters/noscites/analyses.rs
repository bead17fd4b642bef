//! NosCités's analyses: the aggregation pipelines run on the restored listings, each with the
//! columns its table shows (the document store's counterpart of a chapter's SQL files).

use mongodb::bson::{doc, Document};

/// The chapter's analysis pipelines on `listings`, each with the columns its table shows.
pub fn analyses() -> Vec<(&'static str, Vec<Document>, Vec<&'static str>)> {
    let booking = doc! {"$divide": [{"$subtract": [30, "$availability_30"]}, 30]};
    vec![
        (
            "rooms",
            vec![
                doc! {"$group": {"_id": {"city": "$city", "room_type": "$room_type"}, "listings": {"$sum": 1}}},
                doc! {"$project": {"_id": 0, "city": "$_id.city", "room_type": "$_id.room_type", "listings": 1}},
                doc! {"$sort": {"city": -1, "listings": -1}},
            ],
            vec!["city", "room_type", "listings"],
        ),
        (
            "hosts",
            vec![
                doc! {"$group": {"_id": {"city": "$city", "host": "$host_id"}, "listings": {"$sum": 1}, "superhost": {"$max": "$host_is_superhost"}}},
                doc! {"$group": {"_id": "$_id.city", "listings": {"$sum": "$listings"}, "hosts": {"$sum": 1},
                "superhosts": {"$sum": {"$cond": ["$superhost", 1, 0]}}, "hosts_over_100": {"$sum": {"$cond": [{"$gt": ["$listings", 100]}, 1, 0]}}}},
                doc! {"$project": {"_id": 0, "city": "$_id", "listings": 1, "hosts": 1, "superhosts": 1,
                "superhost_pct": {"$round": [{"$multiply": [100, {"$divide": ["$superhosts", "$hosts"]}]}, 2]}, "hosts_over_100": 1}},
                doc! {"$sort": {"city": -1}},
            ],
            vec![
                "city",
                "listings",
                "hosts",
                "superhosts",
                "superhost_pct",
                "hosts_over_100",
            ],
        ),
        (
            "big_hosts",
            vec![
                doc! {"$group": {"_id": {"host_id": "$host_id", "city": "$city"}, "listings": {"$sum": 1}}},
                doc! {"$match": {"listings": {"$gt": 100}}},
                doc! {"$project": {"_id": 0, "host_id": "$_id.host_id", "city": "$_id.city", "listings": 1}},
                doc! {"$sort": {"listings": -1, "host_id": 1}},
            ],
            vec!["host_id", "city", "listings"],
        ),
        (
            "booking_by_room_type",
            vec![
                doc! {"$group": {"_id": "$room_type", "listings": {"$sum": 1}, "rate": {"$avg": booking.clone()}}},
                doc! {"$project": {"_id": 0, "room_type": "$_id", "listings": 1, "booking_rate_pct": {"$round": [{"$multiply": ["$rate", 100]}, 2]}}},
                doc! {"$sort": {"listings": -1}},
            ],
            vec!["room_type", "listings", "booking_rate_pct"],
        ),
        (
            "neighbourhoods",
            vec![
                doc! {"$group": {"_id": {"city": "$city", "neighbourhood": "$neighbourhood"}, "listings": {"$sum": 1}, "rate": {"$avg": booking}}},
                doc! {"$project": {"_id": 0, "city": "$_id.city", "neighbourhood": "$_id.neighbourhood", "listings": 1, "booking_rate_pct": {"$round": [{"$multiply": ["$rate", 100]}, 2]}}},
                doc! {"$sort": {"listings": -1, "neighbourhood": 1}},
            ],
            vec!["city", "neighbourhood", "listings", "booking_rate_pct"],
        ),
        (
            "per_city",
            vec![
                doc! {"$group": {"_id": "$city", "listings": {"$sum": 1}, "min_id": {"$min": "$_id"}, "max_id": {"$max": "$_id"}}},
                doc! {"$project": {"_id": 0, "city": "$_id", "listings": 1, "min_id": 1, "max_id": 1}},
                doc! {"$sort": {"city": -1}},
            ],
            vec!["city", "listings", "min_id", "max_id"],
        ),
    ]
}
