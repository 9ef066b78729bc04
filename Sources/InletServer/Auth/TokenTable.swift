/// What ``TenantDirectory`` holds under its lock: the usable tokens, and the first uses seen
/// here that the database does not know of yet.
///
/// Noting a first use is a dictionary write in memory, once per token: the hot path never
/// writes to the database. The directory records the noted uses in the background.
struct TokenTable: Sendable {
    struct Entry: Sendable {
        let tenantID: Int64
        /// True while no use of the token is known (here or in the database): its next use
        /// is noted.
        var awaitsFirstUse: Bool
    }

    /// nil until the first load succeeded.
    private(set) var tokens: [TokenHash: Entry]?
    /// First uses not yet recorded in the database, with when each was seen.
    private(set) var unrecordedFirstUses: [TokenHash: ContinuousClock.Instant] = [:]

    var isLoaded: Bool { tokens != nil }

    /// The tenant `hash` authenticates; notes the token's first use.
    mutating func authenticate(_ hash: TokenHash) -> TenantDirectory.Lookup {
        guard let entry = tokens?[hash] else { return tokens == nil ? .notLoaded : .unknown }
        if entry.awaitsFirstUse {
            tokens?[hash]?.awaitsFirstUse = false
            unrecordedFirstUses[hash] = unrecordedFirstUses[hash] ?? .now
        }
        return .tenant(entry.tenantID)
    }

    /// Replaces the tokens with a fresh load; a use noted but not yet recorded stays noted.
    mutating func load(_ loaded: [TokenHash: Entry]) {
        var loaded = loaded
        for hash in unrecordedFirstUses.keys { loaded[hash]?.awaitsFirstUse = false }
        tokens = loaded
    }

    /// The first uses to record now; they are no longer held here.
    mutating func takeUnrecordedFirstUses() -> [TokenHash: ContinuousClock.Instant] {
        defer { unrecordedFirstUses = [:] }
        return unrecordedFirstUses
    }

    /// Gives back first uses that could not be recorded, to try again at the next refresh.
    mutating func restore(_ uses: [TokenHash: ContinuousClock.Instant]) {
        unrecordedFirstUses.merge(uses) { min($0, $1) }
    }
}
