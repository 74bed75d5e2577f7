import MonitorCore
print("encmon")
