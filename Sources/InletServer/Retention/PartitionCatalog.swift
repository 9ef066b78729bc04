import InletMessages
import PostgresClient

/// The month tables of the six message tables, read from the catalog.
///
/// Found by name (`<table>_yYYYYmMM` in schema `events`, as `inlet.ensure_month_partitions`
/// names them), not only through `pg_inherits`, so that a table an interrupted prune detached
/// but did not drop is still seen: by the next prune, which drops it, and by erasure, which
/// must not leave a user's rows in it.
public struct PartitionCatalog {
    let connection: Connection

    public init(connection: Connection) { self.connection = connection }

    /// Every month table, by month then table.
    public func partitions() throws -> [MonthPartition] {
        let tables = EventTable.allCases.map(\.name).joined(separator: "|")
        return try connection.query(
            """
            SELECT m[1], c.relname, m[2]::int, m[3]::int,
                   CASE WHEN NOT c.relispartition THEN 'detached' WHEN i.inhdetachpending THEN 'detach-pending' ELSE 'attached' END,
                   pg_stat_get_live_tuples(c.oid), pg_total_relation_size(c.oid)
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
            CROSS JOIN LATERAL regexp_match(c.relname, $1) AS m
            WHERE n.nspname = 'events' AND c.relkind = 'r' AND m IS NOT NULL
            ORDER BY m[2]::int, m[3]::int, m[1]
            """, "^(\(tables))_y([0-9]{4})m([0-9]{2})$"
        ).rows.map { row in
            MonthPartition(
                table: try row.decode(at: 0), name: try row.decode(at: 1), year: try row.decode(at: 2), month: try row.decode(at: 3),
                state: MonthPartition.State(rawValue: try row.decode(at: 4)) ?? .attached, estimatedRows: try row.decode(at: 5),
                bytes: try row.decode(at: 6))
        }
    }

    /// The months, oldest first.
    public func months() throws -> [PartitionMonth] {
        var months: [PartitionMonth] = []
        for partition in try partitions() {
            if months.last?.month == partition.month {
                months[months.count - 1] = PartitionMonth(month: partition.month, partitions: months[months.count - 1].partitions + [partition])
            } else {
                months.append(PartitionMonth(month: partition.month, partitions: [partition]))
            }
        }
        return months
    }
}
