# frozen_string_literal: true

name 'canihaz'
maintainer 'canihaz'
license 'MIT'
description 'Installs and configures the canihaz capacity-test agent: package, settings, one file per test, cron/daemon/timer, freeze and thaw'
version '0.1.0'
chef_version '>= 16.0'
supports 'debian', '>= 12.0'
supports 'ubuntu', '>= 22.04'
