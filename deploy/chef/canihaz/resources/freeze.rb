# frozen_string_literal: true

# canihaz_freeze: the stop file. :freeze creates it (no run starts; running ones stop within 500 ms),
# :thaw removes it (the next minute runs normally). The path defaults to the settings' stop_file.
#
#   canihaz_freeze 'fleet' do
#     action :freeze
#   end

unified_mode true
provides :canihaz_freeze

property :path, String, default: lazy { node['canihaz']['settings']['stop_file'] || '/etc/canihaz/stop' }

default_action :freeze

action :freeze do
  file new_resource.path do
    owner 'root'
    group 'root'
    mode '0644'
    content "# canihaz is frozen while this file exists (Chef resource canihaz_freeze).\n"
  end
end

action :thaw do
  file new_resource.path do
    action :delete
  end
end
