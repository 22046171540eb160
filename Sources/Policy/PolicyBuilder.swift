import LetheCore
import Yams

/// Walks the YAML node tree, checking every key against the schema below and recording each
/// problem with its line and key path.
struct PolicyBuilder {
    var issues: PolicyIssues

    init(issues: PolicyIssues) { self.issues = issues }

    static let topKeys: Set<String> = ["version", "region", "max_segments", "blind_index_bits", "tables", "backup", "dpo", "schedule",
                                       "phone_validation", "phone_ranges", "phone_without_plus", "short_codes", "serve"]
    static let phoneRangeKeys: Set<String> = ["prefix", "lengths"]
    static let tableKeys: Set<String> = ["table", "id", "timestamp", "timestamp_zone", "customer", "retention", "personal", "blind_index",
                                         "intake", "backup", "category", "subject_via", "partitioning", "operational",
                                         "personal_clear", "phone_clear", "customer_type", "timestamp_type"]
    static let partitioningKeys: Set<String> = ["interval", "ahead", "create"]
    static let subjectViaKeys: Set<String> = ["table", "column"]
    static let intakeKeys: Set<String> = ["name", "required", "allowed"]
    static let backupKeys: Set<String> = ["keep", "repo", "signers"]
    static let dpoKeys: Set<String> = ["controller", "contact", "purposes", "recipients", "source", "rights", "authority"]

    mutating func build(root: Node, bytes: [UInt8]) -> (policy: RetentionPolicy?, issues: PolicyIssues) {
        guard let top = mapping(root, "(document)", allowed: Self.topKeys) else { return (nil, issues) }
        let version = top["version"].flatMap { int($0, "version") } ?? 1
        if version != 1 { issues.add(top["version"], "version", "unsupported policy version \(version) (this lethe reads version 1)") }
        let region = top["region"].flatMap { string($0, "region") }?.uppercased() ?? "FR"
        if region.count != 2 || !region.allSatisfy({ $0.isASCII && $0.isLetter }) {
            issues.add(top["region"], "region", "'\(region.prefix(10))' is not an ISO 3166 alpha-2 region code")
        }
        let maxSegments = top["max_segments"].flatMap { int($0, "max_segments") } ?? 10
        if !(1...255).contains(maxSegments) { issues.add(top["max_segments"], "max_segments", "must be between 1 and 255") }
        let blindIndexBits = top["blind_index_bits"].flatMap { int($0, "blind_index_bits") } ?? 32
        if !(8...256).contains(blindIndexBits) { issues.add(top["blind_index_bits"], "blind_index_bits", "must be between 8 and 256") }

        var tables: [TablePolicy] = []
        if let tablesNode = top["tables"] {
            if case .sequence(let sequence) = tablesNode {
                for (index, node) in sequence.enumerated() {
                    if let table = self.table(node, "tables[\(index)]") { tables.append(table) }
                }
            } else {
                issues.add(tablesNode, "tables", "must be a list of tables")
            }
        } else {
            issues.add(root, "tables", "missing: the policy must list its tables")
        }
        var seen = Set<QualifiedName>()
        for table in tables where !seen.insert(table.name).inserted {
            issues.list.append("\(issues.source):\(table.line): tables: \(table.name) is listed twice")
        }
        for table in tables {
            guard let via = table.subjectVia else { continue }
            guard let parent = tables.first(where: { $0.name == via.table }) else {
                issues.list.append("\(issues.source):\(table.line): tables: \(table.name).subject_via.table: \(via.table) is not one of the policy's tables")
                continue
            }
            if parent.blindIndexes.isEmpty {
                issues.list.append("\(issues.source):\(table.line): tables: \(table.name).subject_via.table: \(via.table) has no blind index to find a person by")
            }
        }
        let backup = self.backup(top["backup"])
        let dpo = self.dpo(top["dpo"])
        let schedule = self.schedule(top["schedule"])
        var phoneValidation = self.phoneValidation(top["phone_validation"], ranges: top["phone_ranges"])
        if let node = top["phone_without_plus"], let text = string(node, "phone_without_plus") {
            switch text {
            case "international": phoneValidation.internationalWithoutPlus = true
            case "refuse": break
            default: issues.add(node, "phone_without_plus", "'\(text.prefix(20))' is not a choice (expected international or refuse)")
            }
        }
        if let node = top["short_codes"], let text = string(node, "short_codes") {
            switch text {
            case "accept": phoneValidation.acceptShortCodes = true
            case "refuse": break
            default: issues.add(node, "short_codes", "'\(text.prefix(20))' is not a choice (expected accept or refuse)")
            }
        }
        let serve = self.serve(top["serve"])
        guard let backup, let dpo else { return (nil, issues) }
        var policy = RetentionPolicy(source: issues.source, sourceBytes: bytes, version: version, defaultRegion: region,
                                     maxSegments: maxSegments, blindIndexBits: blindIndexBits, tables: tables, backup: backup, dpo: dpo,
                                     schedule: schedule, phoneValidation: phoneValidation)
        policy.serve = serve
        return (policy, issues)
    }

    private mutating func table(_ node: Node, _ path: String) -> TablePolicy? {
        guard let map = mapping(node, path, allowed: Self.tableKeys) else { return nil }
        guard let nameNode = map["table"], let nameText = string(nameNode, "\(path).table") else {
            if map["table"] == nil { issues.add(node, "\(path).table", "missing: name the table as schema.table") }
            return nil
        }
        let name: QualifiedName
        do {
            name = try QualifiedName(parsing: nameText, defaultSchema: "public")
        } catch {
            issues.add(nameNode, "\(path).table", error.message)
            return nil
        }
        let idColumn = map["id"].flatMap { identifier($0, "\(path).id") } ?? (try! SQLIdentifier("id"))
        let timestamp = map["timestamp"].flatMap { identifier($0, "\(path).timestamp") }
        let customer = map["customer"].flatMap { identifier($0, "\(path).customer") }
        let zone = map["timestamp_zone"].flatMap { string($0, "\(path).timestamp_zone") }
        if let zone, zone != "UTC" {
            issues.add(map["timestamp_zone"], "\(path).timestamp_zone", "'\(zone)' is not supported: Lethe reads a timestamp without time zone as UTC (timestamp_zone: UTC)")
        }
        var customerType = CustomerType.integer
        if let typeNode = map["customer_type"], let text = string(typeNode, "\(path).customer_type") {
            if let parsed = CustomerType(rawValue: text) { customerType = parsed } else {
                issues.add(typeNode, "\(path).customer_type", "'\(text)' is not a customer type: integer (bigint or integer ids, the default) or text (account names)")
            }
            if customer == nil { issues.add(typeNode, "\(path).customer_type", "a customer_type needs a customer column") }
        }
        if zone != nil && timestamp == nil { issues.add(map["timestamp_zone"], "\(path).timestamp_zone", "a timestamp_zone needs a timestamp column") }
        var timestampType = TimestampType.timestamptz
        if let typeNode = map["timestamp_type"], let text = string(typeNode, "\(path).timestamp_type") {
            if let parsed = TimestampType(rawValue: text) { timestampType = parsed } else {
                issues.add(typeNode, "\(path).timestamp_type", "'\(text)' is not a timestamp type: timestamptz (a timestamp column, the default) or epoch_seconds (Unix time in an integer column)")
            }
            if timestamp == nil { issues.add(typeNode, "\(path).timestamp_type", "a timestamp_type needs a timestamp column") }
            if timestampType == .epochSeconds && zone != nil {
                issues.add(typeNode, "\(path).timestamp_type", "epoch seconds count from 1970-01-01 UTC: drop timestamp_zone")
            }
        }
        var retention: ISODuration?
        if let retentionNode = map["retention"], let text = string(retentionNode, "\(path).retention") {
            switch ISODuration.retention(text) {
            case .success(let duration): retention = duration
            case .failure(let error): issues.add(retentionNode, "\(path).retention", error.message)
            }
        }
        if timestamp != nil && retention == nil && map["retention"] == nil { retention = .ceiling }
        if map["retention"] != nil && timestamp == nil {
            issues.add(map["retention"], "\(path).retention", "a retention needs a timestamp column to count from")
        }
        let personal = map["personal"].map { identifierList($0, "\(path).personal") } ?? []
        if !personal.isEmpty && timestamp == nil {
            issues.add(map["personal"], "\(path).personal", "a table holding personal columns needs a timestamp and a retention (at most P6M)")
        }
        if timestamp != nil && customer == nil {
            issues.add(node, "\(path).customer", "missing: retention is per customer, so name the customer column")
        }
        var blindIndexes: [SQLIdentifier: SQLIdentifier] = [:]
        if let indexNode = map["blind_index"], let indexMap = mapping(indexNode, "\(path).blind_index", allowed: nil) {
            for (key, keyNode, value) in indexMap.pairs {
                guard let column = identifier(keyNode, "\(path).blind_index", text: key),
                      let indexColumn = identifier(value, "\(path).blind_index.\(key)") else { continue }
                if !personal.contains(column) {
                    issues.add(keyNode, "\(path).blind_index.\(key)", "'\(key)' is not one of the table's personal columns")
                }
                blindIndexes[column] = indexColumn
            }
        }
        let clearPersonal = map["personal_clear"].map { identifierList($0, "\(path).personal_clear") } ?? []
        let clearPhones = map["phone_clear"].map { identifierList($0, "\(path).phone_clear") } ?? []
        if !clearPersonal.isEmpty && timestamp == nil {
            issues.add(map["personal_clear"], "\(path).personal_clear", "a table holding personal columns needs a timestamp and a retention (at most P6M)")
        }
        for column in clearPhones where !clearPersonal.contains(column) {
            issues.add(map["phone_clear"], "\(path).phone_clear", "'\(column.name)' is not one of the table's personal_clear columns")
        }
        for column in clearPersonal where personal.contains(column) {
            issues.add(map["personal_clear"], "\(path).personal_clear", "'\(column.name)' is also in personal: a column is sealed or kept in clear, not both")
        }
        var intake: IntakePolicy?
        if let intakeNode = map["intake"], let intakeMap = mapping(intakeNode, "\(path).intake", allowed: Self.intakeKeys) {
            let intakeName = intakeMap["name"].flatMap { string($0, "\(path).intake.name") }
            if intakeName == nil && intakeMap["name"] == nil { issues.add(intakeNode, "\(path).intake.name", "missing: the import kind, e.g. messages") }
            let required = intakeMap["required"].map { stringList($0, "\(path).intake.required") } ?? []
            let allowed = intakeMap["allowed"].map { stringList($0, "\(path).intake.allowed") } ?? []
            if required.isEmpty { issues.add(intakeNode, "\(path).intake.required", "an intake must require at least one field") }
            for field in Set(required).intersection(allowed).sorted() {
                issues.add(intakeMap["allowed"], "\(path).intake.allowed", "'\(field)' is already required")
            }
            if let intakeName { intake = IntakePolicy(name: intakeName, required: required, allowed: allowed) }
        }
        if intake != nil && timestampType == .epochSeconds {
            issues.add(map["intake"], "\(path).intake", "lethe import writes timestamptz rows: an epoch_seconds table is written by its own application")
        }
        let backup = map["backup"].flatMap { bool($0, "\(path).backup") } ?? false
        let category = map["category"].flatMap { string($0, "\(path).category") }
        var subjectVia: SubjectLink?
        if let viaNode = map["subject_via"], let via = mapping(viaNode, "\(path).subject_via", allowed: Self.subjectViaKeys) {
            let column = via["column"].flatMap { identifier($0, "\(path).subject_via.column") }
            var parent: QualifiedName?
            if let tableNode = via["table"], let text = string(tableNode, "\(path).subject_via.table") {
                do { parent = try QualifiedName(parsing: text, defaultSchema: "public") } catch { issues.add(tableNode, "\(path).subject_via.table", error.message) }
            }
            if via["table"] == nil || via["column"] == nil {
                issues.add(viaNode, "\(path).subject_via", "needs both table (where the person is found) and column (holding that table's row id)")
            }
            if let parent, let column { subjectVia = SubjectLink(table: parent, column: column) }
            if customer == nil { issues.add(viaNode, "\(path).subject_via", "a table linked to a data subject needs a customer column") }
        }
        let operational = map["operational"].map { identifierList($0, "\(path).operational") } ?? []
        var partitioning: PartitioningPolicy?
        if let partitioningNode = map["partitioning"] {
            partitioning = self.partitioning(partitioningNode, "\(path).partitioning")
            if timestamp == nil { issues.add(partitioningNode, "\(path).partitioning", "range partitions need a timestamp column") }
        }
        return TablePolicy(name: name, idColumn: idColumn, timestampColumn: timestamp, customerColumn: customer,
                           retention: retention, personalColumns: personal, blindIndexes: blindIndexes, intake: intake,
                           backup: backup, category: category, subjectVia: subjectVia, partitioning: partitioning,
                           operationalColumns: operational, line: node.mark?.line ?? 0, timestampZone: zone,
                           clearPersonalColumns: clearPersonal, clearPhoneColumns: clearPhones, customerType: customerType,
                           timestampType: timestampType)
    }

    /// Partitions a day, a week or a month wide, aligned on UTC midnight; `ahead` at most two years.
    private mutating func partitioning(_ node: Node, _ path: String) -> PartitioningPolicy? {
        guard let map = mapping(node, path, allowed: Self.partitioningKeys) else { return nil }
        var interval = PartitioningPolicy.unspecified.interval
        if let intervalNode = map["interval"], let text = string(intervalNode, "\(path).interval") {
            if let parsed = PartitionInterval(iso: text) {
                interval = parsed
            } else {
                issues.add(intervalNode, "\(path).interval", "'\(text.prefix(20))' is not a partition interval (expected P1D, P7D or P1M)")
            }
        }
        var ahead = PartitioningPolicy.unspecified.ahead
        if let aheadNode = map["ahead"], let text = string(aheadNode, "\(path).ahead") {
            switch ISODuration.parse(text) {
            case .success(let duration) where duration.longestSeconds <= 2 * 366 * 86_400: ahead = duration
            case .success: issues.add(aheadNode, "\(path).ahead", "at most two years (P2Y) of partitions ahead")
            case .failure: issues.add(aheadNode, "\(path).ahead", "'\(text.prefix(20))' is not a positive ISO-8601 duration (e.g. P30D)")
            }
        }
        let create = map["create"].flatMap { bool($0, "\(path).create") } ?? true
        return PartitioningPolicy(interval: interval, ahead: ahead, create: create)
    }

    private mutating func phoneValidation(_ modeNode: Node?, ranges rangesNode: Node?) -> PhoneValidationPolicy {
        var mode = PhoneValidationPolicy.standard.mode
        if let modeNode, let text = string(modeNode, "phone_validation") {
            if let parsed = PhoneValidationPolicy.Mode(rawValue: text) {
                mode = parsed
            } else {
                issues.add(modeNode, "phone_validation", "'\(text.prefix(20))' is not a mode (expected ranges or length)")
            }
        }
        var ranges: [PhoneValidationPolicy.Range] = []
        if let rangesNode {
            guard case .sequence(let sequence) = rangesNode else {
                issues.add(rangesNode, "phone_ranges", "must be a list of { prefix, lengths }")
                return PhoneValidationPolicy(mode: mode, ranges: [])
            }
            for (index, item) in sequence.enumerated() {
                let path = "phone_ranges[\(index)]"
                guard let map = mapping(item, path, allowed: Self.phoneRangeKeys) else { continue }
                let prefix = map["prefix"].flatMap { string($0, "\(path).prefix") } ?? ""
                let digits = prefix.dropFirst()
                guard prefix.hasPrefix("+"), (1...14).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                    issues.add(map["prefix"] ?? item, "\(path).prefix", "must be + and 1 to 14 digits (an E.164 prefix such as +22176)")
                    continue
                }
                let lengths: [Int]
                if let node = map["lengths"], case .sequence(let values) = node {
                    lengths = values.enumerated().compactMap { position, value in int(value, "\(path).lengths[\(position)]") }
                } else {
                    issues.add(map["lengths"] ?? item, "\(path).lengths", "must be a list of total lengths in digits after the +, e.g. [12]")
                    continue
                }
                guard !lengths.isEmpty, lengths.allSatisfy({ (digits.count...15).contains($0) }) else {
                    issues.add(map["lengths"], "\(path).lengths", "lengths must be between the prefix's length and 15 (E.164's maximum)")
                    continue
                }
                ranges.append(.init(prefix: prefix, lengths: lengths))
            }
        }
        return PhoneValidationPolicy(mode: mode, ranges: ranges)
    }

    static let serveKeys: Set<String> = ["clients", "socket"]
    static let serveClientKeys: Set<String> = ["name", "uid", "certificate_cn", "may", "customers"]

    /// `serve: { socket: PATH, clients: [ { name, uid, may: [intake, seal, lookup, open], customers: [...] } ] }`.
    private mutating func serve(_ node: Node?) -> ServePolicy {
        var serve = ServePolicy()
        guard let node, let map = mapping(node, "serve", allowed: Self.serveKeys) else { return serve }
        serve.socket = map["socket"].flatMap { string($0, "serve.socket") }
        guard let clientsNode = map["clients"] else { return serve }
        guard case .sequence(let sequence) = clientsNode else {
            issues.add(clientsNode, "serve.clients", "expected a list of clients")
            return serve
        }
        var names = Set<String>(), uids = Set<UInt32>(), commonNames = Set<String>()
        for (index, item) in sequence.enumerated() {
            let path = "serve.clients[\(index)]"
            guard let client = mapping(item, path, allowed: Self.serveClientKeys) else { continue }
            guard let name = client["name"].flatMap({ string($0, "\(path).name") }) else {
                if client["name"] == nil { issues.add(item, "\(path).name", "missing: name the client (it appears in metrics and audit records)") }
                continue
            }
            var uid: UInt32?
            if let uidNode = client["uid"] {
                guard let value = int(uidNode, "\(path).uid"), value >= 0, value <= Int(UInt32.max) else {
                    issues.add(uidNode, "\(path).uid", "not a user id")
                    continue
                }
                uid = UInt32(value)
            }
            let commonName = client["certificate_cn"].flatMap { string($0, "\(path).certificate_cn") }
            guard uid != nil || commonName != nil else {
                issues.add(item, "\(path)", "say how the client is known: uid (a Unix-socket caller's user) or certificate_cn (a TLS client certificate's subject CN)")
                continue
            }
            var may = Set<ServePolicy.Right>()
            for text in client["may"].map({ stringList($0, "\(path).may") }) ?? [] {
                if let right = ServePolicy.Right(rawValue: text) { may.insert(right) } else {
                    issues.add(client["may"], "\(path).may", "'\(text.prefix(20))' is not a right (expected \(ServePolicy.Right.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
            }
            if may.isEmpty { issues.add(item, "\(path).may", "missing: what the client may do (intake, seal, lookup, open)") }
            var customers: Set<Int64>?
            if let list = client["customers"] {
                customers = Set(stringList(list, "\(path).customers").compactMap { text in
                    guard let id = Int64(text) else {
                        issues.add(list, "\(path).customers", "'\(text.prefix(20))' is not a customer id")
                        return nil
                    }
                    return id
                })
            }
            if !names.insert(name).inserted { issues.add(item, "\(path).name", "'\(name)' is declared twice") }
            if let uid, !uids.insert(uid).inserted { issues.add(item, "\(path).uid", "uid \(uid) is declared twice: a caller must be one client") }
            if let commonName, !commonNames.insert(commonName).inserted {
                issues.add(item, "\(path).certificate_cn", "'\(commonName)' is declared twice: a caller must be one client")
            }
            serve.clients.append(ServePolicy.Client(name: name, uid: uid, certificateCN: commonName, may: may, customers: customers))
        }
        return serve
    }

    /// One entry per job; a job the policy leaves out keeps its default schedule.
    private mutating func schedule(_ node: Node?) -> [JobName: ScheduleExpression] {
        var schedule: [JobName: ScheduleExpression] = [:]
        for job in JobName.allCases {
            if case .success(let expression) = ScheduleExpression.parse(job.defaultSchedule) { schedule[job] = expression }
        }
        guard let node, let map = mapping(node, "schedule", allowed: Set(JobName.allCases.map(\.rawValue))) else { return schedule }
        for (key, _, value) in map.pairs {
            guard let job = JobName(rawValue: key), let text = string(value, "schedule.\(key)") else { continue }
            switch ScheduleExpression.parse(text) {
            case .success(let expression): schedule[job] = expression
            case .failure(let error): issues.add(value, "schedule.\(key)", error.message + (error.hint.map { " (\($0))" } ?? ""))
            }
        }
        return schedule
    }

    private mutating func backup(_ node: Node?) -> BackupPolicy? {
        guard let node else { return BackupPolicy(keep: ISODuration(days: 35), repository: nil, signers: []) }
        guard let map = mapping(node, "backup", allowed: Self.backupKeys) else { return nil }
        var keep = ISODuration(days: 35)
        if let keepNode = map["keep"], let text = string(keepNode, "backup.keep") {
            switch ISODuration.retention(text) {
            case .success(let duration): keep = duration
            case .failure(let error): issues.add(keepNode, "backup.keep", error.message)
            }
        }
        // Paths of the public keys whose signature proves a backup's origin (read by the commands that check it).
        let signers = map["signers"].map { stringList($0, "backup.signers") } ?? []
        return BackupPolicy(keep: keep, repository: map["repo"].flatMap { string($0, "backup.repo") }, signers: signers)
    }

    private mutating func dpo(_ node: Node?) -> DPOTexts? {
        guard let node else {
            issues.add(nil, "dpo", "missing: the texts of the DPO cover sheet (controller, purposes, recipients, source, rights, authority)")
            return nil
        }
        guard let map = mapping(node, "dpo", allowed: Self.dpoKeys) else { return nil }
        func text(_ key: String) -> String {
            guard let value = map[key] else {
                issues.add(node, "dpo.\(key)", "missing")
                return ""
            }
            return string(value, "dpo.\(key)") ?? ""
        }
        func list(_ key: String) -> [String] {
            guard let value = map[key] else {
                issues.add(node, "dpo.\(key)", "missing")
                return []
            }
            return stringList(value, "dpo.\(key)")
        }
        return DPOTexts(controller: text("controller"), contact: text("contact"), purposes: list("purposes"),
                        recipients: list("recipients"), source: text("source"), rights: text("rights"), authority: text("authority"))
    }

    // MARK: Node readers

    struct Mapping {
        let pairs: [(String, Node, Node)]
        subscript(key: String) -> Node? { pairs.first { $0.0 == key }?.2 }
    }

    /// Reads a mapping; with `allowed`, any other key is an error naming it.
    private mutating func mapping(_ node: Node, _ path: String, allowed: Set<String>?) -> Mapping? {
        guard case .mapping(let mapping) = node else {
            issues.add(node, path, "must be a mapping of keys to values")
            return nil
        }
        var pairs: [(String, Node, Node)] = []
        for (keyNode, value) in mapping {
            guard let key = keyNode.string else {
                issues.add(keyNode, path, "keys must be plain strings")
                continue
            }
            let keyPath = path == "(document)" ? key : "\(path).\(key)"
            if let allowed, !allowed.contains(key) {
                issues.add(keyNode, keyPath, "unknown key (expected one of: \(allowed.sorted().joined(separator: ", ")))")
                continue
            }
            if pairs.contains(where: { $0.0 == key }) {
                issues.add(keyNode, keyPath, "duplicate key")
                continue
            }
            pairs.append((key, keyNode, value))
        }
        return Mapping(pairs: pairs)
    }

    private mutating func string(_ node: Node, _ path: String) -> String? {
        guard case .scalar(let scalar) = node else {
            issues.add(node, path, "must be a text value")
            return nil
        }
        return scalar.string
    }

    private mutating func int(_ node: Node, _ path: String) -> Int? {
        guard let value = node.int else {
            issues.add(node, path, "must be a whole number")
            return nil
        }
        return value
    }

    private mutating func bool(_ node: Node, _ path: String) -> Bool? {
        guard let value = node.bool else {
            issues.add(node, path, "must be true or false")
            return nil
        }
        return value
    }

    private mutating func stringList(_ node: Node, _ path: String) -> [String] {
        guard case .sequence(let sequence) = node else {
            issues.add(node, path, "must be a list")
            return []
        }
        return sequence.enumerated().compactMap { index, item in string(item, "\(path)[\(index)]") }
    }

    private mutating func identifier(_ node: Node, _ path: String, text: String? = nil) -> SQLIdentifier? {
        guard let name = text ?? string(node, path) else { return nil }
        do {
            return try SQLIdentifier(name)
        } catch {
            issues.add(node, path, error.message)
            return nil
        }
    }

    private mutating func identifierList(_ node: Node, _ path: String) -> [SQLIdentifier] {
        guard case .sequence(let sequence) = node else {
            issues.add(node, path, "must be a list of column names")
            return []
        }
        return sequence.enumerated().compactMap { index, item in identifier(item, "\(path)[\(index)]") }
    }
}
