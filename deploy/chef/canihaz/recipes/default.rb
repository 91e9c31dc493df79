# frozen_string_literal: true

# Installs canihaz, writes /etc/canihaz/canihaz.conf, and runs the agent from cron (default), as the
# canihaz.service daemon, or from canihaz.timer. Files are root:root 0644, directories 0755: the
# agent's strict_modes refuses a config that group or others could change.

conf = node['canihaz']
run_with = conf['run_with'].to_s
unless %w(cron daemon timer).include?(run_with)
  raise ArgumentError, "node['canihaz']['run_with']: expected cron, daemon or timer, got #{run_with.inspect}"
end

tests_dir = conf['tests_dir']
settings = { 'config' => tests_dir }.merge(conf['settings'].to_h)
settings.each do |key, value|
  next unless value.to_s =~ /[\r\n]/
  raise ArgumentError, "node['canihaz']['settings']['#{key}']: a value must not contain a line break"
end

if conf['package_source']
  dpkg_package 'canihaz' do
    source conf['package_source']
  end
else
  package 'canihaz' do
    version conf['package_version'] if conf['package_version']
  end
end

directory '/etc/canihaz' do
  owner 'root'
  group 'root'
  mode '0755'
end

directory tests_dir do
  owner 'root'
  group 'root'
  mode '0755'
end

# Scenario modules (test types operators write): root's and 0755, or strict_modes refuses them.
directory '/etc/canihaz/types' do
  owner 'root'
  group 'root'
  mode '0755'
end

# Checked together with the tests already in place (see the README).
template '/etc/canihaz/canihaz.conf' do
  source 'canihaz.conf.erb'
  owner 'root'
  group 'root'
  mode '0644'
  variables(settings: settings)
  verify "/usr/bin/canihaz check --settings %{path} --config #{tests_dir}"
end

cookbook_file '/etc/cron.d/canihaz' do
  source 'canihaz.cron'
  owner 'root'
  group 'root'
  mode '0644'
  action run_with == 'cron' ? :create : :delete
end

# The units need systemd as PID 1; elsewhere cron is the only way (as the package leaves it).
systemd = ::File.exist?('/proc/1/comm') && ::File.read('/proc/1/comm').include?('systemd')
if systemd
  { 'canihaz.service' => 'daemon', 'canihaz.timer' => 'timer' }.each do |unit, mode|
    service unit do
      action run_with == mode ? %i(enable start) : %i(stop disable)
    end
  end
elsif run_with != 'cron'
  raise "node['canihaz']['run_with'] = #{run_with} needs systemd as PID 1; use cron"
end
