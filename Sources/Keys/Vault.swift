import LetheCore
import LetheCrypto
import Phone
import Policy
import Postgres

/// Seals and opens personal values for one run: the customer data keys, one AES-GCM context, the blind index.
public final class Vault {
    public let keys: DataKeys
    public let blindIndex: BlindIndex
    private let cipher: AESGCM

    public convenience init(db: PostgresConnection, keyring: Keyring, blindIndexBits: Int = BlindIndex.defaultBits) throws {
        try self.init(db: db, keyring: keyring, blindIndexBits: blindIndexBits, reindexing: false)
    }

    /// `reindexing`: the re-index itself, which works while `reindex_to` is set (to `blindIndexBits`).
    init(db: PostgresConnection, keyring: Keyring, blindIndexBits: Int, reindexing: Bool) throws {
        try Self.checkBlindIndexBits(db, blindIndexBits, reindexing: reindexing)
        keys = try DataKeys(db: db, keyring: keyring)
        blindIndex = try BlindIndex(key: try keyring.derivedKey(.blindIndex), bits: blindIndexBits)
        cipher = try AESGCM()
    }

    /// The database's blind indexes were all computed at one length, recorded at first use: a policy that asks
    /// for another would silently find nobody, so it is refused (exit 78) before anything is sealed or searched.
    static func checkBlindIndexBits(_ db: PostgresConnection, _ bits: Int, reindexing: Bool = false) throws {
        guard let (recorded, reindexTo) = try BlindIndexReindex.recorded(db) else {
            try db.execute("INSERT INTO lethe.blind_index_parameters (bits) VALUES (\(.int(Int64(bits)))) ON CONFLICT DO NOTHING")
            return
        }
        if let target = reindexTo {
            guard reindexing && target == bits else {
                throw LetheError(.tempFail, "a re-index of the blind indexes from \(recorded) to \(target) bits is in progress: lookups would mix both lengths",
                                 hint: "finish it: lethe keys reindex --bits \(target) (it resumes), then rerun this command")
            }
            return
        }
        guard recorded == bits || reindexing else {
            throw LetheError.config("the policy's blind_index_bits (\(bits)) differs from the \(recorded) bits this database's blind indexes and tombstones were computed with",
                                    hint: "keep blind_index_bits: \(recorded), or re-index first: lethe keys reindex --bits \(bits) (with another length no person would be found, and an erasure would erase nothing)")
        }
    }

    /// Seals a value for row `row` of the context's column (the row's id is bound into the envelope).
    public func seal(_ plaintext: [UInt8], _ context: EnvelopeContext, row: Int64) throws -> [UInt8] {
        let (id, key) = try keys.sealingKey(customer: context.customer)
        return try Envelope.seal(plaintext, key: key, keyId: id, context: context, row: row, cipher: cipher)
    }

    /// Opens a stored envelope. A failure is an integrity error naming table, column and row, never the value.
    public func open(_ envelope: [UInt8], _ context: EnvelopeContext, row: Int64) throws -> [UInt8] {
        let place = "\(context.table).\(context.column) of row \(row) (customer \(context.customer))"
        guard let keyId = Envelope.keyId(of: envelope) else {
            throw LetheError.integrity("\(place) is not a sealed envelope", hint: "plaintext or legacy values: run 'lethe encrypt migrate'")
        }
        let key: SecretKey
        do {
            key = try keys.key(id: keyId, customer: context.customer)
        } catch let error as LetheError {
            throw LetheError.integrity("cannot open \(place): \(error.message)", hint: error.hint)
        }
        guard let plaintext = try Envelope.open(envelope, key: key, context: context, row: row, cipher: cipher) else {
            throw LetheError.integrity("cannot open \(place): authentication failed",
                                       hint: "the value was altered or moved from another row, column or customer")
        }
        return plaintext
    }
}

/// Seals one customer's values with its current data key, and computes blind indexes: what an import's worker
/// threads each own (their cipher and MAC contexts are not shared), made by `Vault.sealer(customer:)`.
public final class CustomerSealer: @unchecked Sendable {
    public let customer: Int64
    private let keyId: Int64
    private let key: SecretKey
    private let cipher: AESGCM
    public let blindIndex: BlindIndex

    init(customer: Int64, keyId: Int64, key: SecretKey, blindIndex: BlindIndex) throws {
        self.customer = customer
        self.keyId = keyId
        self.key = key
        self.blindIndex = blindIndex
        cipher = try AESGCM()
    }

    /// Blind indexes of recent numbers: a campaign messages the same numbers again and again. Bounded.
    private var tags: [String: [UInt8]] = [:]
    private static let tagCapacity = 50_000

    /// Seals a value for row `row` of the context's column, as `Vault.seal` does.
    public func seal(_ plaintext: [UInt8], _ context: EnvelopeContext, row: Int64) throws -> [UInt8] {
        try Envelope.seal(plaintext, key: key, keyId: keyId, context: context, row: row, cipher: cipher)
    }

    /// The part of a context's associated data that is the same for every row: an import computes it once per
    /// column and seals millions of values with it.
    public func associatedDataPrefix(_ context: EnvelopeContext) -> [UInt8] {
        context.associatedDataPrefix(version: Envelope.version, keyId: keyId)
    }

    /// Seals a value for row `row` with a prefix from `associatedDataPrefix` (the same envelope as `seal`),
    /// appending the envelope (`Envelope.sealedSize` bytes) to `out`.
    public func seal(_ plaintext: [UInt8], prefix: [UInt8], row: Int64, appendingTo out: inout [UInt8]) throws {
        associatedData.removeAll(keepingCapacity: true)
        associatedData += prefix
        EnvelopeContext.appendRow(row, to: &associatedData)
        try Envelope.seal(plaintext, key: key, keyId: keyId, associatedData: associatedData, cipher: cipher, appendingTo: &out)
    }

    /// The associated data of the value being sealed, rebuilt in place for each (a sealer serves one thread).
    private var associatedData: [UInt8] = []

    /// The number's blind index, remembered for the numbers seen last. (A cache shared by the run's sealers, sized
    /// for a million numbers, made the import slower: its lookups miss the CPU caches, and the MAC is cheap.)
    public func blindIndexTag(_ number: PhoneNumber) throws -> [UInt8] {
        if let known = tags[number.e164] { return known }
        if tags.count >= Self.tagCapacity { tags.removeAll(keepingCapacity: true) }
        let tag = try blindIndex.tag(number)
        tags[number.e164] = tag
        return tag
    }
}

extension Vault {
    /// A sealer for `customer` with its own contexts (the data key is fetched, or created, once, here).
    public func sealer(customer: Int64) throws -> CustomerSealer {
        let (id, key) = try keys.sealingKey(customer: customer)
        return try CustomerSealer(customer: customer, keyId: id, key: key, blindIndex: try blindIndex.copy())
    }
}
