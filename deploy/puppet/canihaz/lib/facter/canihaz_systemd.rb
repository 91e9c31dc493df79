# frozen_string_literal: true

# canihaz_systemd: whether systemd is PID 1 here, judged as Puppet's systemd service provider judges
# it (/proc/1/comm), so class canihaz manages canihaz.service and canihaz.timer only where it can.
Facter.add(:canihaz_systemd) do
  confine kernel: 'Linux'
  setcode do
    comm = '/proc/1/comm'
    File.exist?(comm) && File.read(comm).include?('systemd')
  end
end
