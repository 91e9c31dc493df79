# frozen_string_literal: true

# Absolute path of a canihaz .deb on the node (installed with dpkg_package); nil installs the package
# named canihaz from the node's apt repositories.
default['canihaz']['package_source'] = nil
# With no package_source: a version to pin, or nil for whatever apt installs.
default['canihaz']['package_version'] = nil
# How the agent runs: 'cron' (/etc/cron.d/canihaz), 'daemon' (canihaz.service) or 'timer' (canihaz.timer).
default['canihaz']['run_with'] = 'cron'
# Agent settings for /etc/canihaz/canihaz.conf (key => value; true/false are written on/off). Unless
# it sets 'config', the file gets config = tests_dir, so the agent reads the canihaz_test files.
default['canihaz']['settings'] = {}
# Where canihaz_test writes <name>.conf.
default['canihaz']['tests_dir'] = '/etc/canihaz/tests.d'
