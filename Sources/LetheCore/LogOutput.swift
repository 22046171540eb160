import Foundation
import Logging

/// How log lines are rendered on stderr.
public enum LogFormat: String, CaseIterable, Sendable {
    case text
    case json
}

/// A swift-log handler writing one line per event to stderr, as text or as Elastic Common Schema JSON (for ELK:
/// `@timestamp`, `log.level`, `message`, `ecs.version`, `service.name`, `log.logger`; ECS fields a job sets
/// (`event.*`, `error.*`) as given; Lethe's own facts under `lethe.`). Metadata values are operator facts
/// (tables, customer ids, counts); callers never log personal values.
public struct StderrLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let format: LogFormat

    public init(label: String, format: LogFormat, level: Logger.Level) {
        self.label = label
        self.format = format
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let line: String
        switch format {
        case .text:
            let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            line = "\(Timestamps.isoFractional(Date())) \(event.level.rawValue.uppercased()) \(event.message)\(fields.isEmpty ? "" : " " + fields)"
        case .json:
            var object: [String: Any] = [
                "@timestamp": Timestamps.isoFractional(Date()),
                "log.level": event.level.rawValue,
                "log.logger": label,
                "message": "\(event.message)",
                "ecs.version": Self.ecsVersion,
                "service.name": "lethe",
            ]
            for (key, value) in merged { object[Self.ecsKey(key)] = Self.jsonValue(value) }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            line = String(decoding: data, as: UTF8.self)
        }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    static let ecsVersion = "8.11.0"

    /// ECS names pass through; anything else is one of Lethe's own fields.
    static func ecsKey(_ key: String) -> String {
        for prefix in ["event.", "error.", "lethe."] where key.hasPrefix(prefix) { return key }
        return "lethe." + key
    }

    private static func jsonValue(_ value: Logger.MetadataValue) -> Any {
        switch value {
        case .string(let string): string
        // Counts, ids and durations are logged as numbers so that the log store indexes them as numbers.
        case .stringConvertible(let convertible as any BinaryInteger): NSNumber(value: Int64(clamping: convertible))
        case .stringConvertible(let convertible as Double): convertible
        case .stringConvertible(let convertible): convertible.description
        case .array(let array): array.map(jsonValue)
        case .dictionary(let dictionary): dictionary.mapValues(jsonValue)
        }
    }
}

public enum LetheLogging {
    /// Installs the stderr handler once per process.
    public static func bootstrap(format: LogFormat, level: Logger.Level) {
        LoggingSystem.bootstrap { label in StderrLogHandler(label: label, format: format, level: level) }
    }
}
