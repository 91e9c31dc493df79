# @summary Installs the canihaz agent, writes its settings file and tests directory, and picks how it runs.
#
# Every file this class writes is root:root, 0644 (directories 0755): the agent's strict_modes refuses a
# config that group or others could change.
#
# @example One host running from cron, tests from canihaz::test resources
#   class { 'canihaz':
#     settings => { 'statsd' => '10.1.2.3:8125', 'prefix' => 'loadtest' },
#   }
#   canihaz::test { 'home':
#     frequency   => 60,
#     destination => 'statsd',
#     options     => { 'url' => 'http://127.0.0.1:8080/health' },
#   }
#
# @param package_source
#   Absolute path of a canihaz .deb on the host, installed with the dpkg provider. When undef, the
#   package named `canihaz` comes from the host's apt repositories.
# @param package_ensure
#   The package's ensure: `installed`, `latest` (with package_source: when the .deb is newer), a version.
# @param run_with
#   How the agent runs: `cron` (/etc/cron.d/canihaz, one run a minute; the systemd units disabled),
#   `daemon` (canihaz.service enabled and running, no cron file) or `timer` (canihaz.timer enabled and
#   running, no cron file). Not called `schedule`: that is a Puppet metaparameter, whose value every
#   resource of the class would inherit as the name of a schedule resource.
# @param settings
#   Agent settings written to /etc/canihaz/canihaz.conf as `key = value` lines, sorted by key. Keys are
#   the agent's setting names; true and false are written as on and off. Unless it sets `config`, the
#   file gets `config = <tests_dir>` so the agent reads the canihaz::test files.
# @param tests_dir
#   The directory canihaz::test writes one `<title>.conf` file per test into.
# @param purge_tests
#   When true, files in tests_dir that no canihaz::test (or other resource) manages are deleted
#   (recurse and purge on the directory, one level deep); subdirectories are left alone.
# @param manage_units
#   Whether to manage canihaz.service and canihaz.timer (with the systemd provider). By default only
#   where systemd is PID 1 (fact canihaz_systemd). Without it, run_with => cron leaves the units as the
#   package installed them (disabled) and run_with => daemon or timer fails to compile.
class canihaz (
  Optional[Pattern[/\A\/[^\n]+\.deb\z/]] $package_source = undef,
  String[1] $package_ensure = 'installed',
  Enum['cron', 'daemon', 'timer'] $run_with = 'cron',
  Hash[
    Enum[
      'config', 'stop_file', 'lock_dir', 'state_dir', 'journal_days', 'types_dir', 'blocked_limit', 'statsd',
      'graphite', 'prefix', 'statsd_prefix', 'statsd_tags', 'graphite_prefix', 'max_frequency', 'max_total_rate',
      'max_inflight',
      'phase', 'strict_modes', 'log_format', 'log_level',
    ],
    Variant[Pattern[/\A[^\r\n]+\z/], Integer[0], Boolean]
  ] $settings = {},
  Pattern[/\A\/\S*[^\/\s]\z/] $tests_dir = '/etc/canihaz/tests.d',
  Boolean $purge_tests = true,
  Boolean $manage_units = $facts['canihaz_systemd'] == true,
) {
  $settings_file = '/etc/canihaz/canihaz.conf'
  $cron_file = '/etc/cron.d/canihaz'
  $stop_file = $settings['stop_file'] ? {
    undef   => '/etc/canihaz/stop',
    default => String($settings['stop_file']),
  }
  $effective_settings = $settings['config'] ? {
    undef   => { 'config' => $tests_dir } + $settings,
    default => $settings,
  }
  if $effective_settings['config'] != $tests_dir {
    $config = $effective_settings['config']
    warning("canihaz: settings config is ${config}, not tests_dir ${tests_dir}: the canihaz::test files will not run")
  }
  if !$manage_units and $run_with != 'cron' {
    fail(@("MSG"/L)
      canihaz: run_with => ${run_with} needs systemd as PID 1 (fact canihaz_systemd is not true); \
      use run_with => cron, or manage_units => true
      |- MSG
    )
  }

  if $package_source {
    package { 'canihaz':
      ensure   => $package_ensure,
      provider => 'dpkg',
      source   => $package_source,
    }
  } else {
    package { 'canihaz':
      ensure => $package_ensure,
    }
  }

  file { '/etc/canihaz':
    ensure  => directory,
    owner   => 'root',
    group   => 'root',
    mode    => '0755',
    require => Package['canihaz'],
  }

  # Scenario modules (test types operators write, see the README): root's and 0755, or strict_modes
  # refuses them. Put modules here with file resources of your own.
  file { '/etc/canihaz/types':
    ensure  => directory,
    owner   => 'root',
    group   => 'root',
    mode    => '0755',
    require => Package['canihaz'],
  }

  file { $tests_dir:
    ensure       => directory,
    owner        => 'root',
    group        => 'root',
    mode         => '0755',
    recurse      => $purge_tests,
    recurselimit => 1,
    purge        => $purge_tests,
    require      => Package['canihaz'],
  }

  # Checked with the tests already in place, so a change that would invalidate one (a lower
  # max_frequency, say) is refused, naming that test's file and line.
  file { $settings_file:
    ensure       => file,
    owner        => 'root',
    group        => 'root',
    mode         => '0644',
    content      => epp('canihaz/canihaz.conf.epp', { 'settings' => $effective_settings }),
    validate_cmd => "/usr/bin/canihaz check --settings % --config ${tests_dir}",
    require      => File[$tests_dir],
  }

  $cron_ensure = $run_with ? {
    'cron'  => 'file',
    default => 'absent',
  }
  $cron_source = $run_with ? {
    'cron'  => 'puppet:///modules/canihaz/canihaz.cron',
    default => undef,
  }
  file { $cron_file:
    ensure  => $cron_ensure,
    owner   => 'root',
    group   => 'root',
    mode    => '0644',
    source  => $cron_source,
    require => [Package['canihaz'], File[$settings_file]],
  }

  if $manage_units {
    $units = {
      'canihaz.service' => $run_with == 'daemon',
      'canihaz.timer'   => $run_with == 'timer',
    }
    $units.each |String $unit, Boolean $on| {
      service { $unit:
        ensure   => if $on { 'running' } else { 'stopped' },
        enable   => $on,
        provider => 'systemd',
        require  => [Package['canihaz'], File[$settings_file], File[$cron_file]],
      }
    }
  }
}
