import Foundation
import LetheCore

/// The service's Prometheus exposition (`GET /metrics`): requests by route, client and status, latency histograms
/// by route, rows sealed and opened. Counts and names only, never a value.
final class ServeMetrics: @unchecked Sendable {
    private struct Key: Hashable { let route: String, client: String, status: Int }
    static let buckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
    private struct State {
        var requests: [Key: Int] = [:]
        var latency: [String: (counts: [Int], sum: Double, count: Int)] = [:]
        var sealed = 0
        var opened = 0
    }
    private let state = Locked(State())

    func record(route: String, client: String, status: Int, seconds: Double) {
        state.withLock { state in
            state.requests[Key(route: route, client: client, status: status), default: 0] += 1
            var histogram = state.latency[route] ?? (Array(repeating: 0, count: Self.buckets.count), 0, 0)
            for (index, bound) in Self.buckets.enumerated() where seconds <= bound { histogram.counts[index] += 1 }
            histogram.sum += seconds
            histogram.count += 1
            state.latency[route] = histogram
        }
    }

    func sealed(_ count: Int) { state.withLock { $0.sealed += count } }
    func opened(_ count: Int) { state.withLock { $0.opened += count } }

    func exposition() -> String {
        let state = state.value
        var lines = ["# HELP lethe_serve_requests_total Requests answered, by route, client and HTTP status.", "# TYPE lethe_serve_requests_total counter"]
        for (key, count) in state.requests.sorted(by: { ($0.key.route, $0.key.client, $0.key.status) < ($1.key.route, $1.key.client, $1.key.status) }) {
            lines.append("lethe_serve_requests_total{route=\"\(key.route)\",client=\"\(key.client)\",status=\"\(key.status)\"} \(count)")
        }
        lines += ["# HELP lethe_serve_request_duration_seconds Time to answer a request, by route.", "# TYPE lethe_serve_request_duration_seconds histogram"]
        for (route, histogram) in state.latency.sorted(by: { $0.key < $1.key }) {
            for (index, bound) in Self.buckets.enumerated() {
                lines.append("lethe_serve_request_duration_seconds_bucket{route=\"\(route)\",le=\"\(bound)\"} \(histogram.counts[index])")
            }
            lines.append("lethe_serve_request_duration_seconds_bucket{route=\"\(route)\",le=\"+Inf\"} \(histogram.count)")
            lines.append("lethe_serve_request_duration_seconds_sum{route=\"\(route)\"} \(histogram.sum)")
            lines.append("lethe_serve_request_duration_seconds_count{route=\"\(route)\"} \(histogram.count)")
        }
        lines += ["# HELP lethe_serve_values_sealed_total Personal values sealed by the service.", "# TYPE lethe_serve_values_sealed_total counter",
                  "lethe_serve_values_sealed_total \(state.sealed)",
                  "# HELP lethe_serve_values_opened_total Personal values opened by the service.", "# TYPE lethe_serve_values_opened_total counter",
                  "lethe_serve_values_opened_total \(state.opened)"]
        return lines.joined(separator: "\n") + "\n"
    }
}
