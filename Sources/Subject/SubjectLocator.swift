import Keys
import LetheCore
import Logging
import Phone
import Policy
import Postgres
import Schema

/// Every row about one person, table by table: rows whose blind index matches and whose decrypted number is
/// confirmed, then the rows linked to those (`subject_via`, e.g. delivery reports of the messages).
public struct SubjectLocator {
    let db: PostgresConnection
    let policy: RetentionPolicy
    let vault: Vault
    let confirmation: SubjectConfirmation
    let logger: Logger

    public init(db: PostgresConnection, policy: RetentionPolicy, vault: Vault, confirmation: SubjectConfirmation,
                logger: Logger = Logger(label: "lethe.subject")) {
        self.db = db
        self.policy = policy
        self.vault = vault
        self.confirmation = confirmation
        self.logger = logger
    }

    /// What a search found: confirmed rows, and how many candidates the blind index gave that were someone
    /// else (collisions) or could not be opened (shredded key, tampered value).
    struct Findings {
        var rows: [ExportedRow] = []
        var candidates = 0
        var collisions = 0
        var unreadable = 0

        var countsByTable: [String: Int] {
            rows.reduce(into: [:]) { $0[$1.table.name.description, default: 0] += 1 }
        }

        func ids(in table: TablePolicy) -> [Int64] { rows.filter { $0.table.name == table.name }.map(\.id) }
    }

    /// Rows whose clear phone column (`phone_clear`) holds the person's number in whatever spelling the
    /// application wrote: each distinct value is normalised with the policy's phone rules, as intake and lookups
    /// are, and confirmed by the same keyed hash, so a replay from a tombstone (no number) finds them too.
    private func clearMatches(_ table: TablePolicy, _ column: SQLIdentifier, _ fingerprint: SubjectFingerprint,
                              reader: SubjectRowReader, phones: PhoneVerdictCache) throws -> [ExportedRow] {
        let values = try db.query("SELECT DISTINCT \(column)::text AS v FROM \(table.name) WHERE \(column) IS NOT NULL").rows.map { try $0.string("v") }
        let matching = try values.filter { value in
            guard case .success(let accepted) = phones.check(value) else { return false }
            return try confirmation.matches(Array(accepted.number.e164.utf8), fingerprint)
        }
        guard !matching.isEmpty else { return [] }
        return try reader.read(table, where: "t.\(column)::text = ANY (\(SQLValue.textArray(matching))::text[])", content: .identity).map(\.exported)
    }

    func locate(_ fingerprint: SubjectFingerprint, content: SubjectRowReader.Content) throws -> Findings {
        let reader = SubjectRowReader(db: db, vault: vault)
        // Each distinct spelling in a clear phone column is normalised once per search, whatever the table.
        let phones = PhoneVerdictCache(defaultRegion: policy.defaultRegion, rules: policy.phoneRules)
        var findings = Findings()
        for table in policy.subjectTables {
            var confirmed: [ExportedRow] = []
            for (column, indexColumn) in table.blindIndexes.sorted(by: { $0.key < $1.key }) {
                // Candidates are read without their content: only the indexed number is opened, so a colliding
                // person's other values are never decrypted.
                let candidates = try reader.read(table, where: "t.\(indexColumn) = \(fingerprint.blindIndex)", content: .identity)
                findings.candidates += candidates.count
                for candidate in candidates where !confirmed.contains(where: { $0.id == candidate.exported.id }) {
                    guard let sealed = candidate.sealed[column] else { continue }
                    let customer = candidate.exported.customer ?? CustomerKey.withoutCustomer
                    let plaintext: [UInt8]
                    do {
                        plaintext = try vault.open(sealed, EnvelopeContext(table: table.name.description, column: column.name, customer: customer),
                                                   row: candidate.exported.id)
                    } catch let error as LetheError where error.code == .integrity {
                        findings.unreadable += 1
                        logger.warning("a candidate row cannot be opened; it is neither exported nor erased",
                                       metadata: ["table": "\(table.name)", "row": "\(candidate.exported.id)", "reason": "\(error.message)"])
                        continue
                    }
                    if try confirmation.matches(plaintext, fingerprint) {
                        confirmed.append(candidate.exported)
                    } else {
                        findings.collisions += 1
                    }
                }
            }
            for column in table.clearPhoneColumns {
                for row in try clearMatches(table, column, fingerprint, reader: reader, phones: phones) where !confirmed.contains(where: { $0.id == row.id }) {
                    confirmed.append(row)
                }
            }
            let parents = confirmed.map(\.id)
            if content == .full && !parents.isEmpty {
                confirmed = try reader.read(table, where: "t.\(table.idColumn) = ANY(\(parents)::bigint[])",
                                            content: .full).map(\.exported)
            }
            findings.rows += confirmed
            for linked in policy.tables(linkedTo: table) where !parents.isEmpty {
                guard let via = linked.subjectVia else { continue }
                findings.rows += try reader.read(linked, where: "t.\(via.column) = ANY(\(parents)::bigint[])",
                                                 content: content).map(\.exported)
            }
        }
        return findings
    }

}

/// What an export and an erasure both start from: the run's vault, the person's fingerprint and a locator.
struct SubjectSearch {
    let vault: Vault
    let fingerprint: SubjectFingerprint
    let locator: SubjectLocator

    init(number: PhoneNumber, db: PostgresConnection, policy: RetentionPolicy, keyring: Keyring, logger: Logger) throws {
        vault = try Vault(db: db, keyring: keyring, blindIndexBits: policy.blindIndexBits)
        let confirmation = try SubjectConfirmation(keyring: keyring)
        fingerprint = try SubjectFingerprint(number, blindIndex: vault.blindIndex, confirmation: confirmation)
        locator = SubjectLocator(db: db, policy: policy, vault: vault, confirmation: confirmation, logger: logger)
    }

    func locate(content: SubjectRowReader.Content) throws -> SubjectLocator.Findings { try locator.locate(fingerprint, content: content) }
}

/// `lethe serve`'s `POST /v1/lookup` (issue 31): a number's rows of one customer, table by table, found through the
/// blind index and confirmed by decryption, exactly as an export or an erasure finds them.
public struct SubjectLookup {
    let db: PostgresConnection
    let policy: RetentionPolicy
    let keyring: Keyring

    public init(db: PostgresConnection, policy: RetentionPolicy, keyring: Keyring) {
        self.db = db
        self.policy = policy
        self.keyring = keyring
    }

    /// Table -> row ids of `number` owned by `customer` (every policy table a person is found in, subject_via included).
    public func rows(of number: PhoneNumber, customer: Int64) throws -> [String: [Int64]] {
        let search = try SubjectSearch(number: number, db: db, policy: policy, keyring: keyring, logger: Logger(label: "lethe.serve"))
        var found: [String: [Int64]] = [:]
        for row in try search.locate(content: .identity).rows where row.customer == customer {
            found[row.table.name.description, default: []].append(row.id)
        }
        return found.mapValues { $0.sorted() }
    }
}
