# @summary Freezes canihaz on this host (the stop file exists: no run starts, running ones stop within
#   500 ms) or thaws it (the stop file is removed: the next minute runs normally).
#
# The stop file is the settings' stop_file (default /etc/canihaz/stop). A freeze is put in place before
# the tests directory and test files change, and a thaw only after every canihaz::test is written, so
# one Puppet run can freeze, change the tests and thaw without a partial minute of a half-new config
# (README: "To start a new config without a partial first minute").
#
# @example Freeze every host of a role (Hiera: canihaz::freeze::ensure: present)
#   include canihaz::freeze
#
# @param ensure
#   `present` freezes, `absent` thaws.
class canihaz::freeze (
  Enum['present', 'absent'] $ensure = 'present',
) {
  include canihaz

  if $ensure == 'present' {
    file { $canihaz::stop_file:
      ensure  => file,
      owner   => 'root',
      group   => 'root',
      mode    => '0644',
      content => "# canihaz is frozen while this file exists (Puppet class canihaz::freeze).\n",
      before  => File[$canihaz::tests_dir],
    }
  } else {
    file { $canihaz::stop_file:
      ensure => absent,
    }
    Canihaz::Test <| |> -> File[$canihaz::stop_file]
  }
}
