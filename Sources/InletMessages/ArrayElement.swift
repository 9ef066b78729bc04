/// One element of a message array as the walk over it found it, kept until the whole body has
/// been scanned (an envelope's `context` and `sentAt` may follow its `batch` array).
///
/// Compact on purpose: the members found are stored apart, only those present, rather than a
/// `MessageFields` (19 optional values, ~600 bytes) per element, so that a body of many tiny
/// elements does not cost many times its size while it is parsed.
struct ArrayElement {
    enum Refusal {
        /// Valid JSON, but not an object.
        case notAnObject
        /// Not valid JSON: what the scanner found.
        case invalid(JSONSyntaxError)
    }

    /// A member of the element that Inlet reads.
    struct Member {
        let key: MessageFields.Key
        let value: ScannedValue
    }

    /// The element's bytes in the body.
    let raw: Range<Int>
    /// Its members: `members[firstMember..<firstMember + memberCount]` of the walk's storage.
    private let firstMember: Int
    private let memberCount: Int
    /// Why the element is refused without validation; nil for an object to validate.
    let refusal: Refusal?

    /// An object, its members appended to `members`.
    init(raw: Range<Int>, fields: MessageFields, into members: inout [Member]) {
        self.raw = raw
        firstMember = members.count
        for key in MessageFields.Key.allCases {
            if let value = fields[key] { members.append(Member(key: key, value: value)) }
        }
        memberCount = members.count - firstMember
        refusal = nil
    }

    init(raw: Range<Int>, refusal: Refusal) {
        self.raw = raw
        firstMember = 0
        memberCount = 0
        self.refusal = refusal
    }

    /// The object's members, as the scanner found them.
    func fields(in members: [Member]) -> MessageFields {
        var fields = MessageFields()
        for member in members[firstMember..<(firstMember + memberCount)] {
            fields[member.key] = member.value
        }
        return fields
    }
}
