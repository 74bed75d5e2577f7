/// A rectangle of the screen in cells; panels draw inside theirs.
public struct PanelRect: Sendable, Hashable {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x; self.y = y; self.width = max(0, width); self.height = max(0, height)
    }

    public var isEmpty: Bool { width <= 0 || height <= 0 }
    public var maxX: Int { x + width }
    public var maxY: Int { y + height }
    public func contains(x px: Int, y py: Int) -> Bool { px >= x && px < maxX && py >= y && py < maxY }

    /// The rows below the first `n` (a panel minus its title line).
    func dropFirst(_ n: Int) -> PanelRect { PanelRect(x: x, y: y + n, width: width, height: height - n) }
}
