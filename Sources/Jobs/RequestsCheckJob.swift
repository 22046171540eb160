import LetheCore
import Policy
import Subject

/// `requests_check`: a warning per data-subject request past its due date; any makes the run a failure.
public struct RequestsCheckJob: RecordedJob {
    public init() {}

    public var name: JobName { .requestsCheck }

    public func run(_ context: JobContext) throws -> [RequestRegister.Request] {
        let overdue = try RequestRegister(context.db).overdue()
        for request in overdue {
            context.logger.warning("request past its due date", metadata: [
                "request": .stringConvertible(request.id), "kind": "\(request.kind)", "due": "\(Timestamps.iso(request.dueAt))",
            ])
        }
        return overdue
    }

    public func result(of overdue: [RequestRegister.Request]) -> JobResult {
        JobResult(succeeded: overdue.isEmpty, detail: overdue.isEmpty ? "no request is overdue"
                  : "\(overdue.count) request(s) overdue: \(overdue.map { String($0.id) }.joined(separator: ", "))")
    }
}
