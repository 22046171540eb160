import ArgumentParser
import Policy
import Postgres
import Schema

/// `--customer`: a numeric id, or an account name when a table's customer column holds names (`customer_type:
/// text`); `name:` forces a name that is all digits (`--customer name:0042`).
struct CustomerArgument: ExpressibleByArgument, CustomStringConvertible {
    enum Value: Equatable {
        case id(Int64)
        case name(String)
    }

    let value: Value

    init?(argument: String) {
        if argument.hasPrefix("name:") {
            let name = String(argument.dropFirst(5))
            guard !name.isEmpty else { return nil }
            value = .name(name)
        } else if let id = Int64(argument) {
            value = .id(id)
        } else {
            guard !argument.isEmpty else { return nil }
            value = .name(argument)
        }
    }

    init(id: Int64) { value = .id(id) }

    /// The customer id Lethe keys it by; a name is checked against the data and noted in Lethe's registry.
    func id(_ db: PostgresConnection, policy: RetentionPolicy) throws -> Int64 {
        switch value {
        case .id(let id): id
        case .name(let name): try CustomerDirectory(db, policy: policy).resolve(name: name)
        }
    }

    /// The id without a database (a name's id is a fixed function of it).
    var offlineId: Int64 {
        get throws {
            switch value {
            case .id(let id): id
            case .name(let name): try CustomerKey.id(name: name)
            }
        }
    }

    /// What the operator typed, for messages (an account name is not personal data).
    var description: String {
        switch value {
        case .id(let id): String(id)
        case .name(let name): name
        }
    }
}
