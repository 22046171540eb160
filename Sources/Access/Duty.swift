import LetheCore
import Policy

/// What a person or host does with Lethe, each one a NOLOGIN role that `lethe roles apply` creates and grants.
/// DBAs give duties to login users (`GRANT lethe_dpo TO alice`); a command checks the privileges of its duty
/// before doing anything.
public enum Duty: String, CaseIterable, Sendable, Encodable {
    /// purge, partitions, backup, inspect, requests check, status: owns no table, holds no key.
    case worker
    /// requests, subject export and erase, customer export, retention overrides, legal holds.
    case dpo
    /// migrate, restore, keys, roles, import, encrypt.
    case `operator`
    /// audit log, purge ledger, job runs, request register: no application data at all.
    case auditor
    /// The platform's live API and `lethe serve` (issue 31): inserts and reads the policy's tables, in sealed form
    /// only once `lethe constraints apply` has run; no DELETE, no UPDATE, no DDL; of Lethe's registers only what
    /// sealing needs (the customers' data keys and blind-index parameters).
    case app

    public var role: String { "lethe_\(rawValue)" }

    public var summary: String {
        switch self {
        case .worker: "purge, partitions, backup, inspect, requests check, status"
        case .dpo: "requests, subject export and erase, customer export, retention, holds"
        case .operator: "migrate, restore, keys, roles, import, encrypt"
        case .auditor: "audit list and verify, purge ledger, job runs, request register"
        case .app: "the live API's writes and reads of sealed rows (lethe serve)"
        }
    }
}

/// One privilege a duty needs, as PostgreSQL checks it.
public struct Privilege: Hashable, Sendable, Encodable, CustomStringConvertible {
    public enum Kind: String, Sendable, Encodable { case schema, table, function }
    public let kind: Kind
    /// `sms`, `sms.messages`, or a function's signature `lethe.purge_drop_partition(text,regclass,bigint)`.
    public let object: String
    public let privilege: String

    public var description: String { "\(privilege) on \(kind == .table ? "" : "\(kind.rawValue) ")\(object)" }
}

extension Duty {
    static let guardedFunctions = [
        "lethe.purge_delete_rows(text,regclass,bigint,timestamptz,bigint[],timestamptz[],tid,tid,integer)",
        "lethe.purge_drop_partition(text,regclass,bigint)",
        "lethe.create_partition(text,text,timestamptz,timestamptz)",
        "lethe.purge_guard_cutoff(text,bigint)",
        "lethe.purge_rule_for(text,regclass)",
        "lethe.expire_tombstone_fingerprints()",
    ]
    static let auditAppend = "lethe.audit_append(text,text,text,jsonb)"
    /// `lethe serve`'s hourly usage counts and their audit record (migration 0024).
    static let serveNote = "lethe.serve_note(text,bigint,text,bigint,text)"
    /// What sealing reads: the customers' wrapped data keys, the blind-index parameters, the KEK fingerprints.
    static let sealingTables = ["lethe.customer_keys", "lethe.blind_index_parameters", "lethe.kek_fingerprints"]
    static let registers = ["lethe.audit_log", "lethe.purge_runs", "lethe.purge_run_items", "lethe.job_runs", "lethe.requests"]
    /// The registers the DPO keeps: read directly, written only through `dpoFunctions`.
    static let dpoTables = ["lethe.retention_overrides", "lethe.legal_holds", "lethe.requests", "lethe.tombstones", "lethe.tombstone_rows",
                            "lethe.customer_keys", "lethe.customers"]
    /// Each writes its register and the audit record in one transaction (migration 0019).
    static let dpoFunctions = [
        "lethe.lock_holds()", "lethe.hold_place(bigint,text,timestamptz,text)", "lethe.hold_release(bigint,text)",
        "lethe.retention_set(bigint,text,text,text)", "lethe.retention_clear(bigint,text)",
        "lethe.request_open(text,text,timestamptz,text)", "lethe.request_extend(bigint,text,text)", "lethe.request_close(bigint,text)",
        "lethe.tombstone_record(bigint,bytea,integer,bytea,jsonb,jsonb,jsonb,text)", "lethe.customer_shred(bigint,bigint,text)",
        "lethe.customer_note(bigint,text)", "lethe.ledger_advance(bigint,text)",
    ]

    /// The privileges the duty's commands use: what `roles apply` grants and a command checks first.
    public func privileges(policy: RetentionPolicy?) -> [Privilege] {
        let schemas = Set(["lethe"] + (policy?.tables.map(\.name.schema.name) ?? [])).sorted()
        let tables = policy?.tables.map(\.name.description) ?? []
        let usage = schemas.map { Privilege(kind: .schema, object: $0, privilege: "USAGE") }
        switch self {
        case .worker:
            return usage + tables.map { Privilege(kind: .table, object: $0, privilege: "SELECT") }
                + ["lethe.legal_holds", "lethe.retention_overrides", "lethe.purge_rules", "lethe.purge_detached"].map { Privilege(kind: .table, object: $0, privilege: "SELECT") }
                + ["lethe.purge_runs", "lethe.purge_run_items", "lethe.job_runs"].flatMap { table in
                    ["INSERT", "UPDATE"].map { Privilege(kind: .table, object: table, privilege: $0) } }
                + (Self.guardedFunctions + [Self.auditAppend]).map { Privilege(kind: .function, object: $0, privilege: "EXECUTE") }
        case .dpo:
            return usage + tables.flatMap { table in ["SELECT", "DELETE"].map { Privilege(kind: .table, object: table, privilege: $0) } }
                + Self.dpoTables.map { Privilege(kind: .table, object: $0, privilege: "SELECT") }
                + (Self.dpoFunctions + [Self.auditAppend]).map { Privilege(kind: .function, object: $0, privilege: "EXECUTE") }
        case .operator:
            return usage + schemas.map { Privilege(kind: .schema, object: $0, privilege: "CREATE") }
                + tables.map { Privilege(kind: .table, object: $0, privilege: "INSERT") }
                + ["lethe.customer_keys", "lethe.blind_index_parameters", "lethe.kek_fingerprints", "lethe.purge_rules"].flatMap { table in
                    ["SELECT", "INSERT", "UPDATE"].map { Privilege(kind: .table, object: table, privilege: $0) } }
                + [Privilege(kind: .function, object: Self.auditAppend, privilege: "EXECUTE")]
        case .auditor:
            return [Privilege(kind: .schema, object: "lethe", privilege: "USAGE")]
                + Self.registers.map { Privilege(kind: .table, object: $0, privilege: "SELECT") }
        case .app:
            return usage + tables.flatMap { table in ["SELECT", "INSERT"].map { Privilege(kind: .table, object: table, privilege: $0) } }
                + Self.sealingTables.map { Privilege(kind: .table, object: $0, privilege: "SELECT") }
                + [Privilege(kind: .table, object: "lethe.customer_keys", privilege: "INSERT"),
                   Privilege(kind: .function, object: Self.auditAppend, privilege: "EXECUTE"),
                   Privilege(kind: .function, object: Self.serveNote, privilege: "EXECUTE")]
        }
    }
}
