import Foundation

public enum Timestamps {
    /// ISO-8601 UTC with seconds, for reports: `2026-11-25T18:58:56Z`.
    public static func iso(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
