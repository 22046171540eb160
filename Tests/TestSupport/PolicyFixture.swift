import Policy

public enum PolicyFixture {
    public static func defaultPolicy() throws -> RetentionPolicy {
        try PolicyLoader.load(path: LetheProcess.packageRoot.appendingPathComponent("Policies/default.yaml").path)
    }
}
